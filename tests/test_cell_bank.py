"""Cell-currents banks: the file format, templates on any probe from stored currents (numpy only),
equal to LFPy's line-source model for the same currents, position and rotation."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

import si_recsim
from si_recsim.library.cell_bank import CellCurrents, read_cell_bank, write_cell_bank
from si_recsim.library.default import bank_path
from si_recsim.library.placement import recentre
from si_recsim.probes import contact_positions_3d


def _cell(rng, name="L5_TTPC1_test", n_spikes=3, n_segments=7, n_samples=40):
    starts = rng.normal(size=(n_segments, 3)) * 20
    return CellCurrents(name=name, currents=rng.normal(size=(n_spikes, n_segments, n_samples)),
                        somatic_voltage=rng.normal(size=(n_spikes, n_samples)), starts=starts,
                        ends=starts + rng.normal(size=(n_segments, 3)) * 10, diameters=rng.uniform(1, 3, n_segments),
                        somatic=np.arange(n_segments) == 0, dt=0.03125, nbefore=12, stimulus_nA=0.4, cell_type="E",
                        provenance=dict(celsius=34.0, model_source="a test", model_licence="MIT"))


def test_bank_file_round_trip_keeps_every_field(tmp_path):
    rng = np.random.default_rng(0)
    cells = [_cell(rng), _cell(rng, name="L5_BP_test", n_spikes=2)]
    path = write_cell_bank(tmp_path / "bank.h5", cells, name="test", licence="MIT", attribution="us")
    bank = read_cell_bank(path)
    assert bank.model_names == ["L5_BP_test", "L5_TTPC1_test"] and bank.licence == "MIT" and bank.name == "test"
    for cell in cells:
        back = bank.cells[cell.name]
        for key in ("currents", "somatic_voltage", "starts", "ends", "diameters", "somatic", "spike_indices"):
            assert np.array_equal(getattr(back, key), getattr(cell, key)), key
        assert (back.dt, back.nbefore, back.stimulus_nA, back.cell_type) == (cell.dt, cell.nbefore, 0.4, "E")
        assert back.provenance == cell.provenance
    with h5py.File(path, "r") as file:  # the layout the module documents, readable with h5py alone
        assert file["L5_BP_test/currents"].shape == (2, 7, 40) and file.attrs["si_recsim_cell_bank"] == 1
    with pytest.raises(ValueError, match="unique"):
        write_cell_bank(tmp_path / "twice.h5", [cells[0], cells[0]], name="x")
    with pytest.raises(ValueError, match="no models"):
        read_cell_bank(path, ["L5_XX"])


def test_packaged_banks_carry_their_models_and_licences():
    bbp = read_cell_bank(bank_path("default"))
    assert len(bbp.model_names) == 13 and "NC" in bbp.licence and "Blue Brain" in bbp.attribution
    assert {cell.cell_type for cell in bbp.cells.values()} == {"E", "I"}
    assert all(cell.n_spikes >= 2 for cell in bbp.cells.values())  # units of one model are not clones
    assert all(cell.provenance["model_licence"] == bbp.licence for cell in bbp.cells.values())
    builtin = read_cell_bank(bank_path("builtin"))
    assert builtin.model_names == ["builtin_BC", "builtin_MC", "builtin_PC"] and builtin.licence == "MIT"
    with pytest.raises(FileNotFoundError, match="packaged bank"):
        bank_path("no_such_bank")


def test_bank_templates_equal_lfpys_line_source_for_the_same_currents(tmp_path):
    LFPy = pytest.importorskip("LFPy")
    from si_recsim.biophysics import builtin_cell_model, simulate_spikes

    model = builtin_cell_model("builtin_BC")
    simulated = simulate_spikes(model, cache_folder=tmp_path / "cache").subset([2])  # one spike: no random choice
    path = write_cell_bank(tmp_path / "bank.h5", [simulated], name="one cell")
    library = si_recsim.generate_template_library(bank=path, probe="Neuronexus-32", n=4, seed=3, ncontacts=1,
                                                  rot="3drot", min_amp=5, method_of_images=False, progress_bar=False)
    currents = read_cell_bank(path).cells["builtin_BC"].currents[0].astype(float)
    contacts = contact_positions_3d(library.probe)
    for template, location, angles in zip(library.templates, library.locations, library.rotations):
        cell = model.make_cell(simulated.dt, 20.0)
        cell.set_rotation(x=angles[0], y=angles[1], z=angles[2])
        cell.set_pos(*location)
        matrix = LFPy.RecExtElectrode(cell, x=contacts[:, 0], y=contacts[:, 1], z=contacts[:, 2], sigma=0.3,
                                      method="linesource").get_transformation_matrix()
        expected = recentre(1000.0 * matrix @ currents, simulated.nbefore).T  # mV/nA x nA -> uV
        np.testing.assert_allclose(template, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_templates_from_a_bank_need_no_neuron(tmp_path, monkeypatch):
    monkeypatch.setenv("SI_RECSIM_CACHE", str(tmp_path / "cache"))  # the main job computes its library
    output = tmp_path / "np24.h5"
    code = (
        "import sys\n"
        "sys.modules['neuron'] = None\n"  # any import of NEURON or LFPy now fails
        "sys.modules['LFPy'] = None\n"
        "import si_recsim\n"
        f"library = si_recsim.generate_template_library(bank='default', probe='Neuropixels-24', n=2, seed=1,\n"
        f"    ncontacts=1, progress_bar=False, output={str(output)!r})\n"
        "print(library.num_templates, sorted(set(library.cell_models))[:2])\n"
        "recording, sorting = si_recsim.generate_ground_truth(seed=2, **{'spiketrains.duration': 1})\n"
        "assert recording.get_traces(end_frame=3200).shape == (3200, 32)\n"
        "assert not any(name.split('.')[0] in ('neuron', 'LFPy') and sys.modules[name] is not None\n"
        "               for name in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    library = si_recsim.load_template_library(output)
    assert library.num_channels == 24 and len(set(library.cell_models)) >= 10
    assert library.sampling_frequency == 32000.0


def test_cli_gen_templates_from_the_default_bank(tmp_path):
    from si_recsim.cli import main

    output = tmp_path / "lib.h5"
    assert main(["gen-templates", "-n", "1", "--seed", "2", "--probe", "tetrode-mea-l", "--set", "ncontacts=1",
                 "--set", "min_amp=10", "--no-progress", "-o", str(output)]) == 0
    library = si_recsim.load_template_library(output)
    assert library.num_channels == 4 and library.num_templates >= 10
    assert main(["gen-templates", "--bank", "builtin", "--cell-models", "builtin", "-o", str(tmp_path / "x.h5")]) == 2


def test_recordings_on_any_probe_take_templates_from_the_bank(tmp_path, monkeypatch):
    from probeinterface import generate_linear_probe
    from spikeinterface.core import load

    from si_recsim.library.bank_library import library_from_bank

    monkeypatch.setenv("SI_RECSIM_CACHE", str(tmp_path / "cache"))
    common = {"spiketrains.duration": 1.0, "spiketrains.n_exc": 3, "spiketrains.n_inh": 2}
    recording, sorting = si_recsim.generate_ground_truth(probe="Neuropixels-24", seed=5, **common)
    assert recording.get_num_channels() == 24
    bank = read_cell_bank(bank_path("default"))
    assert set(sorting.get_property("cell_model")) <= set(bank.model_names)
    # the library is described in a few hundred bytes and rebuilt from the cache, identical
    spec = recording.to_dict()["kwargs"]["template_library"]
    assert spec["bank"] == "default" and spec["probe"] == "Neuropixels-24"
    assert len(list((tmp_path / "cache" / "libraries").glob("*.h5"))) == 1
    again = load(recording.to_dict(recursive=True))
    assert np.array_equal(again.get_traces(end_frame=4000), recording.get_traces(end_frame=4000))
    units = recording.get_unit_templates().templates_array
    assert np.array_equal(units, library_from_bank(spec).templates[sorting.get_property("template_id")])
    # a probeinterface probe the package has no name for
    linear = generate_linear_probe(num_elec=16, ypitch=25)
    linear.set_device_channel_indices(np.arange(16))
    recording, sorting = si_recsim.generate_ground_truth(probe=linear, seed=6, **common)
    assert recording.get_num_channels() == 16
    assert np.allclose(recording.get_channel_locations(), linear.contact_positions)
    with pytest.raises(ValueError, match="not both"):
        si_recsim.generate_ground_truth(probe="Neuropixels-24", template_library="default", **common)


def test_cli_records_on_a_named_probe(tmp_path, monkeypatch):
    from si_recsim.cli import main

    monkeypatch.setenv("SI_RECSIM_CACHE", str(tmp_path / "cache"))
    output = tmp_path / "gt"
    assert main(["gen-recordings", "--probe", "tetrode-mea-l", "-d", "1", "--seed", "3", "--no-progress",
                 "--set", "spiketrains.n_exc=2", "--set", "spiketrains.n_inh=1", "--set", "templates.min_dist=5",
                 "--set", "templates.min_amp=20", "-o", str(output)]) == 0
    recording, sorting = si_recsim.load_ground_truth(output)
    assert recording.get_num_channels() == 4 and sorting.get_num_units() == 3
    assert main(["gen-recordings", "--probe", "tetrode-mea-l", "-t", "default", "-o", str(tmp_path / "x")]) == 2


def test_drifting_templates_from_the_bank_follow_their_trajectories():
    library = si_recsim.generate_template_library(bank="builtin", probe="Neuronexus-32", n=2, seed=4, ncontacts=1,
                                                  drifting=True, drift_steps=11, min_drift=30, max_drift=60,
                                                  progress_bar=False)
    assert library.drift_steps == 11 and library.templates.shape[:2] == (6, 11)
    lengths = np.linalg.norm(library.locations[:, -1] - library.locations[:, 0], axis=1)
    assert np.all((lengths >= 30) & (lengths <= 60))
    steps = np.diff(library.locations, axis=1)
    assert np.allclose(steps, steps[:, :1], atol=1e-9)  # straight lines, equal steps
    # the template moves with its cell: the largest trough follows the soma along the shank (y)
    contacts_y = np.asarray(library.probe.contact_positions)[:, 1]
    first, last = library.templates[:, 0], library.templates[:, -1]
    main_first = contacts_y[np.argmin(first.min(axis=1), axis=1)]
    main_last = contacts_y[np.argmin(last.min(axis=1), axis=1)]
    assert np.all(library.locations[:, -1, 1] > library.locations[:, 0, 1])  # drift_zlim: up the shank
    assert np.all(main_last >= main_first)
    final = np.clip(library.locations[:, -1, 1], contacts_y.min(), contacts_y.max())
    assert np.all(np.abs(main_last - final) <= 40)


def test_drifting_recordings_from_the_bank_need_no_drifting_library(tmp_path, monkeypatch):
    from helpers import injected_by_spikeinterface

    from si_recsim.library.bank_library import templates_along

    monkeypatch.setenv("SI_RECSIM_CACHE", str(tmp_path / "cache"))
    recording, sorting = si_recsim.generate_ground_truth(seed=3, **{
        "spiketrains.duration": 6, "spiketrains.n_exc": 2, "spiketrains.n_inh": 1, "recordings.drifting": True,
        "recordings.slow_drift_velocity": 600, "recordings.noise_level": 0, "recordings.filter": False,
        "recordings.modulation": "none"})
    assert list(sorting.get_property("drifting")) == [True] * 3
    drift = recording.get_drift_model()
    # straight trajectories along preferred_dir (MEArec's z: up the probe, our y), centred on the units
    lengths = np.linalg.norm(drift.trajectories[:, -1] - drift.trajectories[:, 0], axis=1)
    assert np.allclose(lengths, 100.0) and drift.n_steps % 2 == 1
    assert np.allclose(drift.trajectories[:, drift.n_steps // 2], sorting.get_property("gt_unit_locations"))
    assert np.allclose(np.diff(drift.trajectories[..., [0, 2]], axis=1), 0)
    # the middle step recomputed from the bank is the library's own template
    library = recording.get_template_library()
    ids = sorting.get_property("template_id")
    along = templates_along(library, ids, drift.trajectories[:, [0, drift.n_steps // 2]])
    np.testing.assert_array_equal(along[:, 1], library.templates[ids])
    assert not np.allclose(along[:, 0], along[:, 1])
    # the traces are the sum SpikeInterface makes of those templates at the positions the ground truth gives
    assert np.abs(recording.get_traces() - injected_by_spikeinterface(recording)).max() < 1e-3
    motion = si_recsim.ground_truth_motion(recording)
    assert np.abs(motion.displacement[0]).max() > 20
