"""MEArec files mean the same in si_recsim, MEArec (load_recordings, load_templates, MEAutility) and
SpikeInterface's read_mearec."""

import shutil

import h5py
import numpy as np
import pytest
from probeinterface import generate_linear_probe
from spikeinterface.core import NumpyRecording, NumpySorting

from si_recsim import generate_ground_truth, load_ground_truth, save_ground_truth, unit_spike_traces
from si_recsim.io import convert
from si_recsim.io.mearec_export import write_mearec_recording
from si_recsim.io.mearec_recording import read_mearec_recording, read_mearec_waveforms
from si_recsim.library.loading import load_template_library
from si_recsim.library.mearec_templates import write_mearec_templates
from si_recsim.probes import mearec_to_si_positions, si_to_mearec_positions

mr = pytest.importorskip("MEArec")
se = pytest.importorskip("spikeinterface.extractors")


def _wired(probe):
    probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
    return probe


def _frames(sorting):
    return [np.asarray(sorting.get_unit_spike_train(unit)) for unit in sorting.unit_ids]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    recording, sorting = generate_ground_truth(seed=4, **{"spiketrains.duration": 2, "spiketrains.t_start": 5.0,
                                                          "recordings.bursting": True, "recordings.n_bursting": 1})
    path = write_mearec_recording(recording, sorting, tmp_path_factory.mktemp("parity") / "ours.h5",
                                  progress_bar=False)
    return recording, sorting, path


def test_t_start_keeps_spikes_in_place_in_both_readers(written):
    recording, sorting, path = written
    _, theirs = se.read_mearec(path)
    _, ours = read_mearec_recording(path)
    for expected, read, own in zip(_frames(sorting), _frames(theirs), _frames(ours)):
        assert np.array_equal(read, expected) and np.array_equal(own, expected)
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    assert recgen.info["spiketrains"]["t_start"] == 5.0  # kept in info; the file's time base starts at 0
    for train, expected in zip(recgen.spiketrains, _frames(sorting)):
        assert np.array_equal(np.floor(train.times.magnitude * recording.sampling_frequency), expected)
        assert train.times.magnitude.max() < recording.get_total_duration()


def test_reading_a_mearec_file_with_t_start_places_spikes_as_the_readers_do(written, tmp_path):
    _, _, path = written
    shifted = tmp_path / "shifted.h5"
    shutil.copy(path, shifted)
    with h5py.File(shifted, "a") as file:  # spikes stored as absolute times after a t_start of 1 s
        for unit in file["spiketrains"]:
            times = file[f"spiketrains/{unit}/times"][()]
            del file[f"spiketrains/{unit}/times"]
            file[f"spiketrains/{unit}/times"] = times[times < 1.0] + 1.0
    _, theirs = se.read_mearec(shifted)
    _, ours = read_mearec_recording(shifted)
    for read, own in zip(_frames(theirs), _frames(ours)):
        assert np.array_equal(own, read)


def test_mearec_loads_the_units_templates_and_spike_traces(written):
    recording, sorting, path = written
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    n_units = sorting.get_num_units()
    copies, _ = recording.get_jittered_templates(0)
    assert recgen.templates.shape == (n_units, copies.shape[1], 32, copies.shape[2])
    assert np.allclose(recgen.templates[0], np.swapaxes(copies[0], -1, -2))
    assert np.allclose(mearec_to_si_positions(recgen.template_locations), sorting.get_property("gt_unit_locations"))
    assert list(recgen.template_celltypes) == list(sorting.get_property("cell_model"))
    assert recgen.template_rotations.shape == (n_units, 3)
    assert np.allclose(recgen.voltage_peaks, sorting.get_property("voltage_peaks"))
    assert recgen.spike_traces.shape == (recording.get_num_samples(), n_units)
    assert np.allclose(recgen.spike_traces[:40000], unit_spike_traces(recording).get_traces(end_frame=40000))
    from si_recsim.io import MEArecSpikeTracesRecording

    assert np.array_equal(MEArecSpikeTracesRecording(path).get_traces(start_frame=100, end_frame=900),
                          recgen.spike_traces[100:900])
    annotations = [train.annotations for train in recgen.spiketrains]
    assert [a["snr"] for a in annotations] == pytest.approx(list(sorting.get_property("snr")))
    assert [a["bursting"] for a in annotations] == list(sorting.get_property("bursting"))
    assert not any(a["drifting"] for a in annotations)
    assert np.allclose(recgen.timestamps.magnitude[:5], np.arange(5) / recording.sampling_frequency)


def test_spike_traces_are_the_units_alone_on_their_main_channel():
    common = {"spiketrains.duration": 1, "spiketrains.rates": [20.0], "spiketrains.types": ["E"],
              "recordings.noise_level": 0, "recordings.filter": False}
    recording, sorting = generate_ground_truth(seed=2, **common)
    main = recording.ids_to_indices(sorting.get_property("main_channel_id"))[0]
    traces = unit_spike_traces(recording).get_traces()[:, 0]
    assert np.abs(traces).max() > 50
    assert np.allclose(traces, recording.get_traces()[:, main], atol=1e-4)


def test_drifting_units_keep_their_trajectory_and_annotation(tmp_path):
    recording, sorting = generate_ground_truth(seed=6, **{"spiketrains.duration": 3, "recordings.drifting": True,
                                                          "recordings.slow_drift_velocity": 300})
    path = write_mearec_recording(recording, sorting, tmp_path / "drift.h5", progress_bar=False)
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    units = recording.get_unit_template_library()
    steps = units.drift_steps
    assert recgen.templates.ndim == 5 and recgen.templates.shape[1] == steps
    assert recgen.original_templates.shape[1] == steps
    for train, trajectory, drifting in zip(recgen.spiketrains, units.locations, sorting.get_property("drifting")):
        assert train.annotations["drifting"] == drifting
        assert np.allclose(train.annotations["soma_position"], si_to_mearec_positions(trajectory))
    _, read = read_mearec_recording(path)
    assert list(read.get_property("drifting")) == list(sorting.get_property("drifting"))
    assert np.allclose(read.get_property("gt_unit_locations"), sorting.get_property("gt_unit_locations"))
    assert list(read.get_property("main_channel_id")) == list(sorting.get_property("main_channel_id"))


def test_per_channel_gains_and_offsets_are_kept_in_microvolts(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(-2000, 2000, size=(3000, 4)).astype(np.int16)
    recording = NumpyRecording([raw], sampling_frequency=30000.0)
    recording.set_probe(_wired(generate_linear_probe(num_elec=4, ypitch=20)), in_place=True)
    recording.set_channel_gains([0.195, 0.5, 1.0, 2.5])
    recording.set_channel_offsets([0.0, 10.0, -5.0, 0.0])
    sorting = NumpySorting.from_unit_dict([{"0": np.array([100, 2000])}], sampling_frequency=30000.0)
    path = write_mearec_recording(recording, sorting, tmp_path / "gains.h5", progress_bar=False)
    theirs, _ = se.read_mearec(path)
    assert np.allclose(theirs.get_traces(return_in_uV=True), recording.get_traces(return_in_uV=True), atol=1e-3)
    same_gain = NumpyRecording([raw], sampling_frequency=30000.0)
    same_gain.set_probe(_wired(generate_linear_probe(num_elec=4, ypitch=20)), in_place=True)
    same_gain.set_channel_gains(0.195)
    same_gain.set_channel_offsets(0.0)
    path = write_mearec_recording(same_gain, sorting, tmp_path / "int16.h5", progress_bar=False)
    with h5py.File(path, "r") as file:
        assert file["recordings"].dtype == np.int16 and file["recordings"].attrs["gain_to_uV"] == 0.195


def test_rectangular_contacts_and_odd_lengths_open_in_both_readers(tmp_path):
    n_samples = 60034
    recording = NumpyRecording([np.zeros((n_samples, 4), dtype=np.float32)], sampling_frequency=30000.0)
    probe = generate_linear_probe(num_elec=4, ypitch=20, contact_shapes="rect",
                                  contact_shape_params={"width": 12, "height": 20})
    recording.set_probe(_wired(probe), in_place=True)
    sorting = NumpySorting.from_unit_dict([{"0": np.array([5, n_samples - 1])}], sampling_frequency=30000.0)
    path = write_mearec_recording(recording, sorting, tmp_path / "rect.h5", progress_bar=False)
    theirs, their_sorting = se.read_mearec(path)
    assert theirs.get_num_samples() == n_samples
    assert list(their_sorting.get_unit_spike_train(their_sorting.unit_ids[0])) == [5, n_samples - 1]
    ours, _ = read_mearec_recording(path)
    assert ours.get_probe().contact_shapes[0] == "rect"
    assert ours.get_probe().contact_shape_params[0] == {"width": 12.0, "height": 20.0}


def test_a_channel_subset_describes_its_own_contacts(tmp_path):
    from MEAutility import return_mea

    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 1})
    subset = recording.select_channels(recording.channel_ids[:16])
    path = write_mearec_recording(subset, sorting, tmp_path / "subset.h5", progress_bar=False)
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    probe = return_mea(info=recgen.info["electrodes"])
    assert probe.number_electrodes == 16
    positions = recgen.channel_positions  # MEAutility centres a probe on its own origin
    assert np.allclose(probe.positions - probe.positions.mean(axis=0), positions - positions.mean(axis=0))
    whole = write_mearec_recording(recording, sorting, tmp_path / "whole.h5", progress_bar=False)
    assert mr.load_recordings(str(whole), return_h5_objects=False).info["electrodes"]["electrode_name"] == \
        "Neuronexus-32"


def test_drifting_template_libraries_export_what_their_data_holds(tmp_path):
    library = load_template_library("default")
    steps = np.stack([library.templates] * 3, axis=1)
    trajectories = np.stack([library.locations + [0, offset, 0] for offset in (-10, 0, 10)], axis=1)
    drifting = type(library)(templates=steps, locations=trajectories, cell_models=library.cell_models,
                             sampling_frequency=library.sampling_frequency, nbefore=library.nbefore,
                             probe=library.probe, rotations=library.rotations)  # hand-built: no metadata
    for built, expected_drifting in ((drifting, True), (drifting.static(), False)):
        path = write_mearec_templates(built, tmp_path / f"{expected_drifting}.h5")
        tempgen = mr.load_templates(str(path), return_h5_objects=False)
        assert tempgen.params["params"]["drifting"] == expected_drifting
        assert tempgen.params["params"]["cut_out"] == pytest.approx([library.nbefore * 1000 / library.sampling_frequency,
                                                          (library.templates.shape[1] - library.nbefore) * 1000
                                                          / library.sampling_frequency])
        if expected_drifting:
            assert tempgen.params["params"]["drift_steps"] == 3 and tempgen.templates.shape[1] == 3


@pytest.mark.slow
def test_conversions_carry_the_sources_own_ground_truth(mearec_library_path, tmp_path):
    params = mr.get_default_recordings_params()
    params["spiketrains"].update(duration=2, n_exc=2, n_inh=1)
    params["seeds"] = {"spiketrains": 1, "templates": 2, "convolution": 3, "noise": 4}
    params["recordings"]["extract_waveforms"] = True
    recgen = mr.gen_recordings(params=params, tempgen=mr.load_templates(str(mearec_library_path),
                                                                         return_h5_objects=False), verbose=False)
    source = tmp_path / "mearec.h5"
    mr.save_recording_generator(recgen, str(source))
    waveforms = read_mearec_waveforms(source)
    assert len(waveforms) == 3 and np.allclose(waveforms["0"], recgen.spiketrains[0].waveforms)
    copy = convert(source, tmp_path / "copy.h5", "mearec", progress_bar=False)
    original, again = (mr.load_recordings(str(path), return_h5_objects=False) for path in (source, copy))
    assert again.info["seeds"] == original.info["seeds"]
    assert again.info["recordings"]["noise_level"] == original.info["recordings"]["noise_level"]
    for name in ("voltage_peaks", "templates", "template_locations", "spike_traces"):
        assert np.allclose(getattr(again, name), getattr(original, name)), name
    assert np.allclose(read_mearec_waveforms(copy)["2"], waveforms["2"])
    assert [t.annotations["snr"] for t in again.spiketrains] == [t.annotations["snr"] for t in original.spiketrains]
    # a ground-truth folder brings its parameters and templates
    recording, sorting = generate_ground_truth(seed=8, **{"spiketrains.duration": 1})
    folder = save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)
    loaded, loaded_sorting = load_ground_truth(folder)
    exported = convert(folder, tmp_path / "from_folder.h5", "mearec", progress_bar=False)
    from_folder = mr.load_recordings(str(exported), return_h5_objects=False)
    assert from_folder.info["seeds"] == recording.get_annotation("si_recsim_params")["seeds"]
    assert np.allclose(mearec_to_si_positions(from_folder.template_locations), sorting.get_property("gt_unit_locations"))
    assert np.allclose(from_folder.voltage_peaks, sorting.get_property("voltage_peaks"))
    assert from_folder.templates.shape[:3] == (sorting.get_num_units(), 1, 32)


def test_overlap_labels_agree_with_mearecs_annotation(tmp_path):
    from MEArec.tools import annotate_overlapping_spikes

    from si_recsim import overlap_labels
    from si_recsim.io.neo_spiketrains import sorting_to_neo_spiketrains

    recording, sorting = generate_ground_truth(seed=3, **{"spiketrains.duration": 4, "spiketrains.n_exc": 6,
                                                          "spiketrains.n_inh": 4, "templates.min_dist": 5,
                                                          "recordings.overlap": True, "recordings.sync_rate": 0.2})
    pairs = np.asarray(sorting.get_annotation("overlapping_pairs"))
    assert len(pairs), "the test needs spatially overlapping units"
    ours = overlap_labels(sorting)
    trains = sorting_to_neo_spiketrains(sorting)
    annotate_overlapping_spikes(trains, overlapping_pairs=pairs, parallel=False, verbose=False)
    for unit_id, train in zip(sorting.unit_ids, trains):
        theirs = np.asarray(train.annotations["overlap"])
        assert np.array_equal(ours[unit_id] != "NO", theirs != "NO")
        assert np.all(ours[unit_id][theirs == "STO"] == "STO")  # MEArec may overwrite STO with TO; never the reverse
    assert any(np.any(labels == "STO") for labels in ours.values())
    path = write_mearec_recording(recording, sorting, tmp_path / "overlap.h5", progress_bar=False)
    recgen = mr.load_recordings(str(path), return_h5_objects=False)
    for unit_id, train in zip(sorting.unit_ids, recgen.spiketrains):
        assert list(train.annotations["overlap"]) == list(ours[unit_id])
    _, read = read_mearec_recording(path)
    assert all(np.array_equal(labels, ours[unit_id]) for unit_id, labels in zip(sorting.unit_ids,
                                                                               overlap_labels(read).values()))


@pytest.mark.slow
def test_extracted_waveforms_are_the_traces_around_each_spike(tmp_path):
    from spikeinterface.core import load_sorting_analyzer

    recording, sorting = generate_ground_truth(seed=2, **{"spiketrains.duration": 2,
                                                          "recordings.extract_waveforms": True})
    folder = save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)
    analyzer = load_sorting_analyzer(folder / "analyzer")
    waveforms = analyzer.get_extension("waveforms").get_waveforms_one_unit(sorting.unit_ids[0])
    frames = sorting.get_unit_spike_train(sorting.unit_ids[0])
    assert waveforms.shape == (len(frames), 80, 32)  # every spike, 0.5 + 2 ms at 32 kHz
    traces = recording.get_traces(return_in_uV=True)
    inside = np.flatnonzero((frames >= 16) & (frames + 64 <= len(traces)))
    spike = inside[len(inside) // 2]
    assert np.allclose(waveforms[spike], traces[frames[spike] - 16: frames[spike] + 64], atol=1e-3)
    assert analyzer.get_extension("templates") is not None


def test_drift_of_a_mearec_file_as_positions_and_motion(tmp_path):
    from MEArec.tools import extract_units_drift_vector

    from si_recsim import ground_truth_positions
    from si_recsim.io import read_mearec_motion, read_mearec_positions

    recording, sorting = generate_ground_truth(seed=6, **{"spiketrains.duration": 4, "recordings.drifting": True,
                                                          "recordings.slow_drift_velocity": 600})
    path = write_mearec_recording(recording, sorting, tmp_path / "drift.h5", progress_bar=False)
    times, positions = read_mearec_positions(path)
    theirs, their_times = extract_units_drift_vector(mearec_file=str(path))  # the peer's reading, MEArec's z = our y
    assert np.allclose(their_times, times)
    assert np.allclose(positions[:, :, 1].T, theirs)
    middles = times[:-1] + 0.5 * (times[1] - times[0])  # inside each drift sample, away from float ties
    _, ours = ground_truth_positions(recording, middles)  # what the traces used
    assert np.allclose(positions[:, :-1], ours)
    motion = read_mearec_motion(path)
    assert motion.displacement[0].shape == (len(times), len(motion.spatial_bins_um))
    assert np.ptp(motion.displacement[0]) > 10
