"""Ground truth in NWB: written by neuroconv, read back by SpikeInterface's NWB extractors, checked by nwbinspector."""

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import yaml

from si_recsim import generate_ground_truth, save_ground_truth
from si_recsim.io.nwb import write_nwb

pytest.importorskip("neuroconv")
nwbinspector = pytest.importorskip("nwbinspector")
se = pytest.importorskip("spikeinterface.extractors")

PROPERTIES = ("gt_unit_locations", "main_channel_id", "cell_type", "cell_model", "template_id", "firing_rate",
              "bursting", "drifting", "template_peak_uV", "filtered_peak_uV", "voltage_peaks", "snr")


def _critical(path) -> list:
    from nwbinspector import Importance, inspect_nwbfile

    return [message for message in inspect_nwbfile(nwbfile_path=str(path))
            if message.importance == Importance.CRITICAL]


def test_a_ground_truth_folder_converts_to_nwb_that_spikeinterface_reads_back(tmp_path):
    recording, sorting = generate_ground_truth(seed=3, **{"spiketrains.duration": 2, "recordings.bursting": True})
    folder = save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)
    target = tmp_path / "gt.nwb"
    completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", "convert", str(folder), str(target), "--to",
                                "nwb", "--no-progress"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    read = se.read_nwb_recording(target)
    read_sorting = se.read_nwb_sorting(target, electrical_series_path="acquisition/ElectricalSeries")
    assert np.allclose(read.get_traces(return_in_uV=True), recording.get_traces(return_in_uV=True), atol=1e-4)
    assert np.allclose(read.get_channel_locations(), recording.get_channel_locations())
    assert read.sampling_frequency == recording.sampling_frequency
    for ours, theirs in zip(sorting.unit_ids, read_sorting.unit_ids):
        assert np.array_equal(read_sorting.get_unit_spike_train(theirs), sorting.get_unit_spike_train(ours))
    for key in PROPERTIES:
        expected, written = sorting.get_property(key), read_sorting.get_property(key)
        assert written is not None, key
        if expected.dtype.kind in "fc":
            assert np.allclose(written, expected), key
        else:
            assert np.array_equal(written.astype(expected.dtype), expected), key
    assert _critical(target) == []


def test_parameters_and_seeds_travel_in_the_file(tmp_path):
    from pynwb import NWBHDF5IO

    recording, sorting = generate_ground_truth(seed=9, **{"spiketrains.duration": 1})
    path = write_nwb(recording, sorting, tmp_path / "gt.nwb", progress_bar=False)
    with NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        params = yaml.safe_load(nwbfile.scratch["si_recsim_params"].data)
        assert params["seeds"] == recording.get_annotation("si_recsim_params")["seeds"]
        assert nwbfile.subject.subject_id == "in-silico"
    with pytest.raises(FileExistsError):
        write_nwb(recording, sorting, path, progress_bar=False)
    write_nwb(recording, sorting, path, progress_bar=False, overwrite=True)


@pytest.mark.slow
def test_writing_is_chunked(tmp_path):
    peaks = {}
    for duration in (30, 90):
        recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": duration})
        recording.get_traces(end_frame=1000)  # the engine and its templates are built before measuring
        tracemalloc.start()
        write_nwb(recording, sorting, tmp_path / f"{duration}.nwb", progress_bar=False)
        peaks[duration] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    size = recording.get_total_samples() * recording.get_num_channels() * 4  # 368 MB of traces at 90 s
    assert peaks[90] < size / 3, f"{peaks[90] / 1e6:.0f} MB for {size / 1e6:.0f} MB of traces"
    assert peaks[90] < 1.25 * peaks[30], peaks  # flat in duration
    assert se.read_nwb_recording(tmp_path / "90.nwb").get_num_samples() == recording.get_num_samples()
