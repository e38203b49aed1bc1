"""The gen-templates job: built-in cell models to a template library file, from the API and the CLI."""

import subprocess
import sys

import numpy as np
import pytest

from si_recsim import ParameterError, generate_ground_truth
from si_recsim.biophysics.template_generation import generate_template_library
from si_recsim.library import cell_placement
from si_recsim.library.cell_classes import physrot_constrained
from si_recsim.library.library_file import read_template_library

pytest.importorskip("LFPy")
FAST = dict(n=3, ncontacts=2, seed=4, progress_bar=False, bank=None)  # simulated with NEURON


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("intracellular_cache")


def test_library_file_round_trip_and_use_in_recordings(tmp_path, cache):
    library = generate_template_library(output=tmp_path / "lib.h5", cache_folder=cache, **FAST)
    assert not (tmp_path / "lib.h5.parts").exists()
    assert library.templates.shape == (9, 224, 32) and library.sampling_frequency == 32000.0
    assert sorted(set(library.cell_models)) == ["builtin_BC", "builtin_MC", "builtin_PC"]
    assert np.all(np.argmin(library.templates.min(axis=2), axis=1) == library.nbefore)
    assert np.all(library.amplitudes() >= 30)
    loaded = read_template_library(tmp_path / "lib.h5")
    assert np.array_equal(loaded.templates, library.templates)
    assert np.allclose(loaded.probe.contact_positions, library.probe.contact_positions)
    assert loaded.info["params"]["seed"] == 4
    templates = loaded.to_templates()
    assert templates.num_units == 9 and templates.probe.get_contact_count() == 32
    recording, sorting = generate_ground_truth(template_library=tmp_path / "lib.h5", seed=1, **{
        "spiketrains.duration": 1, "spiketrains.n_exc": 1, "spiketrains.n_inh": 2, "templates.min_amp": 30,
        "templates.min_dist": 5})
    assert set(sorting.get_property("cell_model")) <= set(library.cell_models)
    assert recording.get_traces(end_frame=100).shape == (100, 32)


def test_each_model_has_its_own_seeded_stream(cache):
    everything = generate_template_library(cache_folder=cache, **FAST)
    alone = generate_template_library(cache_folder=cache, cell_models=["builtin_MC"], **FAST)
    subset = everything.cell_models == "builtin_MC"
    assert np.array_equal(alone.templates, everything.templates[subset])
    other_seed = generate_template_library(cache_folder=cache, **{**FAST, "seed": 5})
    assert not np.array_equal(other_seed.templates, everything.templates)


def test_interrupted_run_resumes_from_finished_models(tmp_path, cache, monkeypatch):
    original = cell_placement._run_task
    calls = []

    def failing(source, name, *args):
        calls.append(name)
        if name == "builtin_PC":
            raise RuntimeError("simulated crash")
        return original(source, name, *args)

    monkeypatch.setattr(cell_placement, "_run_task", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_template_library(output=tmp_path / "lib.h5", cache_folder=cache, **FAST)
    assert not (tmp_path / "lib.h5").exists()
    assert len(list((tmp_path / "lib.h5.parts").glob("*.npz"))) == 2
    calls.clear()
    monkeypatch.setattr(cell_placement, "_run_task", lambda source, name, *args: (calls.append(name),
                                                                                 original(source, name, *args))[1])
    resumed = generate_template_library(output=tmp_path / "lib.h5", cache_folder=cache, **FAST)
    assert calls == ["builtin_PC"]
    assert np.array_equal(resumed.templates, generate_template_library(cache_folder=cache, **FAST).templates)


@pytest.mark.slow
def test_parallel_processes_give_the_same_library(cache):
    serial = generate_template_library(cache_folder=cache, **FAST)
    parallel = generate_template_library(cache_folder=cache, n_jobs=2, **FAST)
    assert np.array_equal(serial.templates, parallel.templates)
    assert np.array_equal(serial.locations, parallel.locations)


def test_physrot_table_and_bad_parameters():
    assert physrot_constrained("builtin_PC") and physrot_constrained("L5_TTPC1_cADpyr232_1")
    assert physrot_constrained("builtin_MC") and not physrot_constrained("builtin_BC")
    with pytest.raises(ParameterError, match="Unknown cell models"):
        generate_template_library(cell_models=["builtin_XX"], **FAST)
    with pytest.raises(ParameterError, match="min_drift"):
        generate_template_library(drifting=True, min_drift=500, **FAST)
    with pytest.raises(ParameterError, match="xlim"):
        generate_template_library(xlim=[-5, 10], **FAST)


@pytest.mark.slow
def test_cli_generates_a_library_then_a_recording(tmp_path, cache):
    library = tmp_path / "lib.h5"
    command = [sys.executable, "-m", "si_recsim.cli", "gen-templates", "-n", "2", "--seed", "3", "-o", str(library),
               "--cache-folder", str(cache), "--no-progress", "--set", "ncontacts=1", "--probe", "Neuropixels-24",
               "--cell-models", "builtin"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "written to" in completed.stdout
    assert read_template_library(library).num_channels == 24
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists" in again.stderr
    recording_command = [sys.executable, "-m", "si_recsim.cli", "gen-recordings", "-t", str(library), "-d", "1",
                         "--seed", "1", "-o", str(tmp_path / "gt"), "--no-progress", "--set", "spiketrains.n_exc=1",
                         "--set", "spiketrains.n_inh=1", "--set", "templates.min_amp=20", "--set",
                         "templates.min_dist=5"]
    completed = subprocess.run(recording_command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr


def test_cli_writes_mearec_format(tmp_path, cache):
    mr = pytest.importorskip("MEArec")
    output = tmp_path / "mearec_lib.h5"
    command = [sys.executable, "-m", "si_recsim.cli", "gen-templates", "-n", "1", "--seed", "2", "-o", str(output),
               "--cache-folder", str(cache), "--no-progress", "--set", "ncontacts=1", "--format", "mearec",
               "--cell-models", "builtin"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    tempgen = mr.load_templates(str(output), return_h5_objects=False)
    assert tempgen.templates.shape == (3, 32, 224)


@pytest.mark.slow
def test_mpi_ranks_give_the_same_library(tmp_path, run_mpi, cache):
    serial = generate_template_library(cache_folder=cache, **{**FAST, "n": 12})
    output = tmp_path / "mpi.h5"
    completed = run_mpi("gen-templates", "--mpi", "-n", "12", "--seed", "4", "--set", "ncontacts=2", "-o", str(output),
                        "--cache-folder", str(cache), "--no-progress", "--cell-models", "builtin")
    assert completed.returncode == 0, completed.stderr[-2000:]
    parallel = read_template_library(output)
    assert np.array_equal(parallel.templates, serial.templates)
    assert np.array_equal(parallel.locations, serial.locations)


def test_3d_probe_library_gives_a_recording(cache):
    from si_recsim import probe_from_name

    probe = probe_from_name("Neuropixels-24").to_3d(axes="xy")
    probe.rotate(30, axis=[1.0, 0.0, 0.0])
    probe.set_device_channel_indices(np.arange(24))
    library = generate_template_library(probe=probe, cache_folder=cache, **{**FAST, "min_amp": 10})
    assert library.probe.ndim == 3 and library.num_channels == 24
    recording, sorting = generate_ground_truth(template_library=library, seed=0, **{
        "spiketrains.duration": 1, "spiketrains.n_exc": 1, "spiketrains.n_inh": 1, "templates.min_amp": 10,
        "templates.min_dist": 5})
    assert recording.has_3d_probe() and recording.get_channel_locations(axes="xyz").shape == (24, 3)
    assert recording.get_traces(end_frame=1000).shape == (1000, 24)
