"""Intracellular simulation of a user-supplied cell model (the plug-in path for any model)."""

import numpy as np
import pytest
from helpers import make_ball_and_sticks

from si_recsim.biophysics.cell_models import CellModel
from si_recsim.biophysics.intracellular import IntracellularSettings, simulate_spikes

pytest.importorskip("LFPy")


MODEL = CellModel(name="test_ball_and_sticks", make_cell=make_ball_and_sticks, celsius=6.3)
SETTINGS = IntracellularSettings.from_params(sim_time=0.15, target_spikes=(2, 40), weights=(0.25, 1.75))


def test_spike_currents_are_cut_around_somatic_peaks(tmp_path):
    spikes = simulate_spikes(MODEL, SETTINGS, cache_folder=tmp_path)
    n_spikes, n_segments, n_samples = spikes.currents.shape
    assert n_spikes >= 2 and n_samples == SETTINGS.n_samples == 224
    assert np.all(np.argmax(spikes.somatic_voltage, axis=1) == SETTINGS.nbefore)
    assert spikes.somatic.sum() >= 1 and spikes.starts.shape == (n_segments, 3)
    # the soma sits at the origin of the stored geometry
    soma = (spikes.starts[spikes.somatic] + spikes.ends[spikes.somatic]) / 2
    assert np.allclose(soma.mean(axis=0), 0, atol=1e-6)
    # the injected step leaves the cell through its membrane: membrane currents (outward positive) sum to it
    assert np.allclose(spikes.currents.sum(axis=1), spikes.stimulus_nA, atol=1e-3 * spikes.stimulus_nA + 1e-6)


def test_cache_is_reused_and_keyed_by_settings(tmp_path):
    first = simulate_spikes(MODEL, SETTINGS, cache_folder=tmp_path)
    cached = list((tmp_path / "intracellular").glob("*.h5"))
    assert len(cached) == 1
    second = simulate_spikes(MODEL, SETTINGS, cache_folder=tmp_path)
    assert np.array_equal(first.currents, second.currents)
    other = IntracellularSettings.from_params(sim_time=0.15, target_spikes=(2, 40), cut_out=(1.5, 4.0))
    simulate_spikes(MODEL, other, cache_folder=tmp_path)
    assert len(list((tmp_path / "intracellular").glob("*.h5"))) == 2


def test_impossible_spike_window_fails_with_the_tried_currents(tmp_path):
    with pytest.raises(RuntimeError, match="did not fire between 500"):
        simulate_spikes(MODEL, IntracellularSettings.from_params(sim_time=0.05, target_spikes=(500, 600)),
                        cache_folder=tmp_path)
    assert list(tmp_path.rglob("*.h5")) == []  # nothing cached for a failed calibration


def test_builtin_models_calibrate_and_have_distinct_spike_widths(tmp_path):
    from si_recsim.biophysics.cell_models import builtin_cell_models
    from si_recsim.library.cell_classes import cell_category
    from si_recsim.physics import segment_matrix

    widths, categories = {}, {}
    for model in builtin_cell_models():
        spikes = simulate_spikes(model, IntracellularSettings.from_params(), cache_folder=tmp_path)
        low, high = model.target_spikes
        assert low < len(spikes.currents) + 1 <= high  # the first spike is dropped
        potential = 1000 * segment_matrix(np.array([[0.0, 0.0, 30.0]]), spikes.starts, spikes.ends,
                                          spikes.diameters) @ spikes.currents[0]
        trace = potential[0] - potential[0, 0]
        assert trace.min() < -15.0  # a visible extracellular spike 30 um away
        widths[model.name] = np.sum(trace < trace.min() / 2) * spikes.dt
        categories[model.name] = cell_category(model.name, ["PC", "SS", "SP"], ["BC", "MC"])
    assert widths["builtin_PC"] > 1.3 * widths["builtin_MC"] > 1.3 * 1.3 * widths["builtin_BC"]
    assert categories == {"builtin_PC": "E", "builtin_MC": "I", "builtin_BC": "I"}
