"""MEArec recording files: ours read by SpikeInterface and MEArec, MEArec's read by us."""

import h5py
import numpy as np
import pytest

from si_recsim import generate_ground_truth
from si_recsim.io.mearec_export import write_mearec_recording
from si_recsim.io.mearec_recording import read_mearec_drift, read_mearec_recording

mr = pytest.importorskip("MEArec")
se = pytest.importorskip("spikeinterface.extractors")


@pytest.fixture(scope="module")
def mearec_file(mearec_library_path, tmp_path_factory):
    """A recording made by MEArec itself from the shared template library."""
    params = mr.get_default_recordings_params()
    params["spiketrains"].update(duration=3, n_exc=3, n_inh=1)
    params["seeds"] = {"spiketrains": 1, "templates": 2, "convolution": 3, "noise": 4}
    templates = mr.load_templates(str(mearec_library_path), return_h5_objects=False)
    recgen = mr.gen_recordings(params=params, tempgen=templates, verbose=False)
    path = tmp_path_factory.mktemp("mearec") / "mearec_recording.h5"
    mr.save_recording_generator(recgen, str(path))
    return path


def test_reading_a_mearec_file_matches_spikeinterfaces_reader(mearec_file):
    recording, sorting = read_mearec_recording(mearec_file)
    reference_recording, reference_sorting = se.read_mearec(mearec_file)
    assert np.array_equal(recording.get_traces(start_frame=1000, end_frame=5000),
                          reference_recording.get_traces(start_frame=1000, end_frame=5000))
    assert np.allclose(recording.get_channel_locations(), reference_recording.get_channel_locations())
    assert recording.sampling_frequency == reference_recording.sampling_frequency
    for ours, theirs in zip(sorting.unit_ids, reference_sorting.unit_ids):
        assert np.array_equal(sorting.get_unit_spike_train(ours), reference_sorting.get_unit_spike_train(theirs))
    # what SpikeInterface's reader does not expose
    assert list(sorting.get_property("cell_type")) == ["E", "E", "E", "I"]
    locations = sorting.get_property("gt_unit_locations")
    with h5py.File(mearec_file, "r") as file:
        assert np.allclose(locations, file["template_locations"][()][:, [1, 2, 0]])
    assert sorting.get_property("voltage_peaks").shape == (4, 32)
    assert recording.get_annotation("mearec_info")["seeds"]["noise"] == 4
    assert read_mearec_drift(mearec_file) == []


def test_our_ground_truth_written_as_mearec_opens_in_spikeinterface_and_mearec(tmp_path):
    recording, sorting = generate_ground_truth(seed=5, **{"spiketrains.duration": 3})
    path = write_mearec_recording(recording, sorting, tmp_path / "ours.h5", progress_bar=False)
    si_recording, si_sorting = se.read_mearec(path)
    assert np.array_equal(si_recording.get_traces(), recording.get_traces())
    assert np.allclose(si_recording.get_channel_locations(), recording.get_channel_locations())
    for ours, theirs in zip(sorting.unit_ids, si_sorting.unit_ids):
        assert np.array_equal(si_sorting.get_unit_spike_train(theirs), sorting.get_unit_spike_train(ours))
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    assert recgen.recordings.shape == (3 * 32000, 32)
    assert [st.annotations["cell_type"] for st in recgen.spiketrains] == list(sorting.get_property("cell_type"))
    assert np.allclose(recgen.channel_positions[:, 1:], recording.get_channel_locations())
    assert recgen.info["seeds"]["noise"] == recording.get_annotation("si_recsim_params")["seeds"]["noise"]
    # and back: every ground-truth property we wrote is read again
    back_recording, back_sorting = read_mearec_recording(path)
    assert np.array_equal(back_recording.get_traces(end_frame=1000), recording.get_traces(end_frame=1000))
    assert np.allclose(back_sorting.get_property("gt_unit_locations"), sorting.get_property("gt_unit_locations"))
    assert list(back_sorting.get_property("cell_model")) == list(sorting.get_property("cell_model"))


def test_int16_gain_is_kept(tmp_path):
    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 1, "recordings.dtype": "int16",
                                                          "recordings.adc_bit_depth": 12})
    path = write_mearec_recording(recording, sorting, tmp_path / "int16.h5", progress_bar=False)
    si_recording, _ = se.read_mearec(path)
    assert si_recording.get_dtype() == np.int16
    assert np.allclose(si_recording.get_channel_gains(), recording.get_channel_gains())
    back, _ = read_mearec_recording(path)
    assert np.allclose(back.get_channel_gains(), recording.get_channel_gains())


def test_old_files_are_refused(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as file:
        file.attrs["mearec_version"] = "1.4.1"
        file.create_dataset("recordings", data=np.zeros((4, 10)))
        file.create_dataset("channel_positions", data=np.zeros((4, 3)))
        file.create_group("info/recordings")
        file.create_group("info/electrodes")
    with pytest.raises(ValueError, match="older than 1.5"):
        read_mearec_recording(path)


@pytest.mark.slow
def test_convert_between_mearec_and_spikeinterface_folders(mearec_file, tmp_path):
    import subprocess
    import sys

    from si_recsim import load_ground_truth

    folder = tmp_path / "gt"
    command = [sys.executable, "-m", "si_recsim.cli", "convert", str(mearec_file), str(folder), "--to", "binary",
               "--no-progress"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    recording, sorting = load_ground_truth(folder)
    original, original_sorting = read_mearec_recording(mearec_file)
    assert np.array_equal(recording.get_traces(), original.get_traces())
    assert np.allclose(sorting.get_property("gt_unit_locations"), original_sorting.get_property("gt_unit_locations"))
    back = tmp_path / "back.h5"
    completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", "convert", str(folder), str(back), "--to",
                                "mearec", "--no-progress"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    si_recording, si_sorting = se.read_mearec(back)
    assert np.array_equal(si_recording.get_traces(), original.get_traces())
    for unit in si_sorting.unit_ids:
        assert len(si_sorting.get_unit_spike_train(unit)) > 0
    refused = subprocess.run([sys.executable, "-m", "si_recsim.cli", "convert", str(mearec_file),
                              str(tmp_path / "x.h5"), "--to", "library"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "convert it to one of" in refused.stderr


def test_convert_template_libraries(mearec_library_path, tmp_path):
    from si_recsim.io import convert
    from si_recsim.library.library_file import read_template_library
    from si_recsim.library.mearec_templates import read_mearec_templates

    ours = convert(mearec_library_path, tmp_path / "ours.h5", "library")
    library = read_template_library(ours)
    original = read_mearec_templates(mearec_library_path)
    assert np.array_equal(library.templates, original.templates)
    again = convert(ours, tmp_path / "again_mearec.h5", "mearec-templates")
    assert np.allclose(read_mearec_templates(again).locations, original.locations)
    assert mr.load_templates(str(again), return_h5_objects=False).templates.shape == (65, 32, 224)


def test_neo_spiketrains_both_ways():
    from si_recsim.io.neo_spiketrains import sorting_from_neo_spiketrains, sorting_to_neo_spiketrains

    recording, sorting = generate_ground_truth(seed=2, **{"spiketrains.duration": 2})
    trains = sorting_to_neo_spiketrains(sorting)
    assert len(trains) == 10 and trains[0].annotations["cell_type"] == "E"
    assert np.allclose(trains[0].annotations["soma_position"],
                       sorting.get_property("gt_unit_locations")[0][[2, 0, 1]])
    back = sorting_from_neo_spiketrains(trains, sorting.sampling_frequency)
    for unit in sorting.unit_ids:
        assert np.array_equal(back.get_unit_spike_train(unit), sorting.get_unit_spike_train(unit))
    assert np.allclose(back.get_property("gt_unit_locations"), sorting.get_property("gt_unit_locations"))
    assert list(back.get_property("cell_type")) == list(sorting.get_property("cell_type"))


def test_templates_of_a_recording_file_as_spikeinterface_templates(mearec_file, mearec_library_path, tmp_path):
    from si_recsim.io.mearec_recording import read_mearec_recording_templates
    from si_recsim.library.mearec_templates import read_mearec_templates

    templates = read_mearec_recording_templates(mearec_file)
    library = read_mearec_templates(mearec_library_path)
    with h5py.File(mearec_file, "r") as file:
        ids = file["template_ids"][()]
    assert templates.templates_array.shape == (4, 224, 32) and templates.nbefore == 64
    assert templates.sampling_frequency == 32000
    assert np.allclose(templates.templates_array, library.templates[ids], atol=1e-3)
    assert templates.probe.get_contact_count() == 32
    recording, sorting = generate_ground_truth(seed=3, **{"spiketrains.duration": 1})
    ours = read_mearec_recording_templates(write_mearec_recording(recording, sorting, tmp_path / "o.h5",
                                                                  progress_bar=False))
    assert np.allclose(ours.templates_array, recording.get_template_library().templates[sorting.get_property("template_id")],
                       atol=1e-3)
    assert ours.nbefore == recording.get_template_library().nbefore
