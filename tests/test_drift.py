"""Drifting templates and drifting recordings."""

import pickle

import numpy as np
import pytest
from helpers import injected_by_spikeinterface

from si_recsim import ParameterError, generate_ground_truth
from si_recsim.recording.drift import ground_truth_motion

pytest.importorskip("LFPy")


@pytest.fixture(scope="module")
def drifting_library(tmp_path_factory):
    from si_recsim.biophysics.template_generation import generate_template_library

    folder = tmp_path_factory.mktemp("drifting")
    path = folder / "drifting.h5"
    generate_template_library(bank=None, n=10, seed=0, drifting=True, ncontacts=1, drift_steps=21, output=path,
                       cache_folder=folder / "cache", progress_bar=False)
    return path


def test_drifting_templates_follow_their_trajectories(drifting_library):
    from si_recsim.library.loading import load_template_library

    library = load_template_library(drifting_library)
    assert library.templates.shape == (30, 21, 224, 32) and library.locations.shape == (30, 21, 3)
    lengths = np.linalg.norm(library.locations[:, -1] - library.locations[:, 0], axis=1)
    assert np.all((lengths >= 30 - 1e-9) & (lengths <= 100 + 1e-9))
    steps = np.diff(library.locations, axis=1)
    assert np.allclose(steps, steps[:, :1])  # evenly spaced, straight
    assert np.all(library.locations[:, -1, 1] - library.locations[:, 0, 1] >= 30)  # upwards by default
    assert np.all(np.argmin(library.templates.min(axis=3), axis=2) == library.nbefore)
    # the waveform changes along the trajectory
    assert not np.allclose(library.templates[:, 0], library.templates[:, -1])


def _drifting(library, **overrides):
    base = {"spiketrains.duration": 20, "spiketrains.n_exc": 3, "spiketrains.n_inh": 1, "templates.min_amp": 30,
            "templates.min_dist": 10, "recordings.drifting": True, "recordings.angle_tol": 30,
            "recordings.slow_drift_velocity": 120}
    return generate_ground_truth(template_library=library, seed=3, **{**base, **overrides})


def _spike_times(sorting):
    return [sorting.get_unit_spike_train(unit_id, return_times=True) for unit_id in sorting.unit_ids]


def test_slow_drift_is_a_triangle_starting_at_the_middle(drifting_library):
    recording, sorting = _drifting(drifting_library)
    drift = recording.get_drift_model()
    assert list(sorting.get_property("drifting")) == [True] * 4
    amplitude = 2 * np.abs(drift.signal_um).max()
    period = 2 * amplitude / (120 / 60)
    assert drift.signal_um[0] == 0
    quarter = np.searchsorted(drift.times, period / 4)
    assert drift.signal_um[quarter] == pytest.approx(-amplitude / 2, abs=amplitude * 0.02)
    speed = np.abs(np.diff(drift.signal_um)) / np.diff(drift.times)
    assert np.median(speed) == pytest.approx(2.0, rel=0.02)  # 120 um/min
    # every spike uses the step of the signal at its own time
    # every spike uses the step of the signal held at its own time, by the README's formula:
    # round(D // 2 + f s(t) (D - 1) / L), clipped to the trajectory
    n_steps = drift.n_steps
    for unit, times in enumerate(_spike_times(sorting)):
        held = drift.signal_um[np.searchsorted(drift.times, times, side="right") - 1]
        length = np.linalg.norm(drift.trajectories[unit, -1] - drift.trajectories[unit, 0])
        expected = np.clip(np.rint(n_steps // 2 + drift.factors[unit] * held * (n_steps - 1) / length), 0, n_steps - 1)
        assert np.array_equal(recording._engine.injector.drift_indices[unit], expected)


def test_drift_waits_for_t_start_and_never_wraps(drifting_library):
    recording, sorting = _drifting(drifting_library, **{"recordings.t_start_drift": 8.0,
                                                        "recordings.slow_drift_amplitude": 1e6})
    drift = recording.get_drift_model()
    middle = drift.n_steps // 2
    for unit, times in enumerate(_spike_times(sorting)):
        steps = recording._engine.injector.drift_indices[unit]
        assert np.all(steps[times < 8.0] == middle)
        assert steps.min() >= 0 and steps.max() <= drift.n_steps - 1
        assert np.any(steps[times > 9.0] != middle)


def test_non_rigid_and_partial_drift(drifting_library):
    recording, _ = _drifting(drifting_library, **{"recordings.drift_mode_probe": "non-rigid",
                                                  "recordings.non_rigid_linear_min_factor": 0.25})
    factors = recording.get_drift_model().factors
    assert factors.min() == pytest.approx(0.25) and factors.max() == pytest.approx(1.0)
    recording, sorting = _drifting(drifting_library, **{"recordings.n_drifting": 2,
                                                        "recordings.drift_mode_speed": "slow+fast"})
    assert sorting.get_property("drifting").sum() == 2
    still = np.flatnonzero(~sorting.get_property("drifting"))
    for unit in still:
        assert np.all(recording._engine.injector.drift_indices[unit] == recording.get_drift_model().n_steps // 2)


def test_drifting_traces_match_an_independent_sum(drifting_library):
    recording, sorting = _drifting(drifting_library, **{"recordings.noise_level": 0, "recordings.filter": False,
                                                        "recordings.modulation": "none", "spiketrains.duration": 6,
                                                        "recordings.slow_drift_velocity": 600})
    assert np.abs(recording.get_traces() - injected_by_spikeinterface(recording)).max() < 1e-3
    again = pickle.loads(pickle.dumps(recording))
    assert np.array_equal(again.get_traces(start_frame=50000, end_frame=90000),
                          recording.get_traces(start_frame=50000, end_frame=90000))


def test_ground_truth_motion(drifting_library):
    recording, sorting = _drifting(drifting_library)
    motion = ground_truth_motion(recording)
    assert motion.direction == "y"
    displacement = motion.displacement[0]
    assert displacement.shape[0] == len(recording.get_drift_model().times)
    assert np.abs(displacement).max() > 10
    assert np.allclose(displacement[0], 0)


def test_a_fixed_static_library_cannot_drift():
    with pytest.raises(ParameterError, match="drifting template library"):
        generate_ground_truth(seed=0, template_library="default", **{"spiketrains.duration": 1,
                                                                     "recordings.drifting": True})


def test_external_drift_signal_and_ground_truth_positions(drifting_library):
    from si_recsim.recording.drift import ground_truth_positions

    times = np.linspace(0, 20, 21)
    signal = np.where(times < 10, 0.0, 12.0)  # one 12 um step up at 10 s
    recording, sorting = _drifting(drifting_library, **{"recordings.external_drift_times": times.tolist(),
                                                        "recordings.external_drift_um": signal.tolist()})
    sample_times, positions = ground_truth_positions(recording, np.array([5.0, 15.0]))
    shift = positions[:, 1] - positions[:, 0]
    lengths = np.linalg.norm(recording.get_drift_model().trajectories[:, -1] - recording.get_drift_model().trajectories[:, 0],
                             axis=1)
    # every unit moved 12 um along its trajectory (to the nearest step)
    steps = lengths / (recording.get_drift_model().n_steps - 1)
    assert np.all(np.abs(np.linalg.norm(shift, axis=1) - 12.0) <= steps / 2 + 1e-9)
    static, _ = generate_ground_truth(seed=0, **{"spiketrains.duration": 1})
    _, still = ground_truth_positions(static, np.array([0.1, 0.9]))
    assert np.allclose(still[:, 0], still[:, 1])


def test_drifting_recording_in_mearec_format(drifting_library, tmp_path):
    mr = pytest.importorskip("MEArec")
    from si_recsim.io.mearec_export import write_mearec_recording
    from si_recsim.io.mearec_recording import read_mearec_drift, read_mearec_recording

    recording, sorting = _drifting(drifting_library, **{"spiketrains.duration": 3})
    path = write_mearec_recording(recording, sorting, tmp_path / "drift.h5", progress_bar=False)
    drift = read_mearec_drift(path)
    assert len(drift) == 1
    assert np.allclose(drift[0]["drift_vector_um"], recording.get_drift_model().signal_um, atol=1e-4)
    assert np.allclose(drift[0]["drift_factors"], recording.get_drift_model().factors)
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    assert len(recgen.drift_list) == 1
    assert np.allclose(recgen.drift_list[0]["drift_vector_um"], recording.get_drift_model().signal_um, atol=1e-4)
    _, back = read_mearec_recording(path)
    assert np.allclose(back.get_property("gt_unit_locations"), sorting.get_property("gt_unit_locations"))
