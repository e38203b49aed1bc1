"""neurodamus outputs back into SpikeInterface, checked against the raw HDF5 of neurodamus' ring test."""

import pickle

import h5py
import numpy as np
import pytest
from spikeinterface.core import load

from si_recsim.io.sonata_reports import read_compartment_report, read_sonata_lfp_report, read_sonata_spikes
from si_recsim.physics.segments import CellSegments
from si_recsim.sonata.electrodes import Electrode
from si_recsim.sonata.electrodes_file import write_electrodes_file

pytest.importorskip("libsonata")


def _raw(path, population="RingA"):
    with h5py.File(path, "r") as file:
        group = file[f"report/{population}"]
        return (group["data"][()], group["mapping/node_ids"][()].astype(np.int64),
                group["mapping/index_pointers"][()].astype(np.int64),
                group["mapping/element_ids"][()], group["mapping/time"][()])


def test_lfp_report_sums_each_electrode_over_cells(ringtest):
    path = ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5"
    data, nodes, pointers, elements, time = _raw(path)
    recording = read_sonata_lfp_report(path)
    assert recording.get_num_channels() == elements.max() + 1 == 3
    assert recording.get_num_samples() == data.shape[0] == 20
    assert recording.sampling_frequency == pytest.approx(1000.0 / time[2])
    assert np.allclose(recording.get_times(), (time[0] + time[2] * np.arange(20)) / 1000.0)
    per_node = []
    for index, node in enumerate(nodes):
        columns = np.arange(pointers[index], pointers[index + 1])
        alone = read_sonata_lfp_report(path, population="RingA", node_ids=[int(node)]).get_traces()
        assert np.array_equal(alone[:, elements[columns]], data[:, columns])  # cell/electrode mapping
        per_node.append(alone.astype(np.float64))
    assert np.allclose(recording.get_traces(), np.sum(per_node, axis=0), rtol=1e-6, atol=1e-9)
    assert np.abs(recording.get_traces()).max() > 0
    assert recording.get_annotation("summed_nodes") == {"RingA": 3}


def test_lfp_report_is_lazy_chunkable_and_reloads(ringtest, tmp_path):
    path = ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5"
    recording = read_sonata_lfp_report(path)
    whole = recording.get_traces()
    assert np.array_equal(np.vstack([recording.get_traces(start_frame=a, end_frame=a + 7) for a in range(0, 20, 7)]),
                          whole)
    assert np.array_equal(pickle.loads(pickle.dumps(recording)).get_traces(), whole)
    assert np.array_equal(load(recording.to_dict()).get_traces(), whole)
    saved = recording.save(folder=tmp_path / "saved", n_jobs=2, chunk_size=6, progress_bar=False)
    assert np.array_equal(saved.get_traces(), whole)
    assert np.allclose(recording.get_traces(return_in_uV=True), whole.astype(np.float64) * 1e6, rtol=1e-6)
    in_millivolts = read_sonata_lfp_report(path, weights_units="mV/nA")
    assert np.allclose(in_millivolts.get_channel_gains(), 1e3)


def test_lfp_report_with_the_simulation_electrodes_file_gets_a_probe(ringtest, tmp_path):
    path = ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5"
    with pytest.raises(ValueError, match="does not name and place"):  # neurodamus' test file has no electrode groups
        read_sonata_lfp_report(path, electrodes_file=ringtest / "lfp_3elec_ringA.h5")
    cells = [CellSegments(node, (0, 0, 0), np.zeros((5, 3)), np.ones((5, 3)), [0, 1, 1, 2, 2], [0, 2, 2, 2, 2])
             for node in range(3)]
    electrodes = [Electrode(f"contact_{i}", (10.0 * i, 50.0, 20.0)) for i in range(3)]
    weights = write_electrodes_file({"RingA": cells}, electrodes, tmp_path / "weights.h5")
    recording = read_sonata_lfp_report(path, electrodes_file=weights)
    assert list(recording.channel_ids) == ["contact_0", "contact_1", "contact_2"]
    assert recording.has_3d_probe()
    assert np.allclose(recording.get_channel_locations(axes="xyz"), [e.position for e in electrodes])


def test_lfp_report_bad_requests(ringtest, tmp_path):
    path = ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5"
    with pytest.raises(ValueError, match="not 'RingB'"):
        read_sonata_lfp_report(path, population="RingB")
    with pytest.raises(ValueError, match="not in the report"):
        read_sonata_lfp_report(path, population="RingA", node_ids=[9])
    with pytest.raises(ValueError, match="give population"):
        read_sonata_lfp_report(path, node_ids=[0])
    with pytest.raises(FileNotFoundError):
        read_sonata_lfp_report(tmp_path / "none.h5")


def test_several_populations_sum_or_read_one_at_a_time(ringtest, tmp_path):
    data_a, *_ = _raw(ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5")
    path = tmp_path / "two_populations.h5"
    with h5py.File(ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5") as source, h5py.File(path, "w") as target:
        source.copy("report/RingA", target, name="report/RingA")
        source.copy("report/RingA", target, name="report/RingB")
    both = read_sonata_lfp_report(path)
    one = read_sonata_lfp_report(path, population="RingB")
    assert np.allclose(both.get_traces(), 2 * one.get_traces(), rtol=1e-6)
    assert both.get_annotation("summed_nodes") == {"RingA": 3, "RingB": 3}
    del both, one  # their open read handles
    with h5py.File(path, "a") as file:  # different electrode counts cannot be summed
        del file["report/RingB/mapping/element_ids"]
        file["report/RingB/mapping/element_ids"] = np.tile(np.array([0, 1, 3], dtype=np.uint32), 3)
    with pytest.raises(ValueError, match="different electrode counts"):
        read_sonata_lfp_report(path)


def test_spike_file_becomes_a_sorting(ringtest):
    path = ringtest / "input_spikes.h5"
    with h5py.File(path) as file:
        nodes, times = file["spikes/RingA/node_ids"][()], file["spikes/RingA/timestamps"][()]
    with pytest.raises(ValueError, match="choose one"):
        read_sonata_spikes(path)
    sorting = read_sonata_spikes(path, population="RingA", sampling_frequency=10000.0)
    assert sorted(sorting.unit_ids) == sorted(set(nodes.tolist()))
    for unit in sorting.unit_ids:
        expected = np.sort(np.round(times[nodes == unit] / 1000.0 * 10000.0).astype(int))
        assert np.array_equal(sorting.get_unit_spike_train(unit), expected)
    with_silent = read_sonata_spikes(path, population="RingA", node_ids=[0, 1, 2, 7])
    assert with_silent.get_unit_spike_train(7).size == 0
    assert list(with_silent.get_property("population")) == ["RingA"] * 4
    assert np.array_equal(load(with_silent.to_dict()).get_unit_spike_train(0), with_silent.get_unit_spike_train(0))


def test_compartment_report_as_arrays(ringtest, v5_sonata):
    path = ringtest / "reference" / "reports" / "compartment_v.h5"
    data, nodes, pointers, elements, time = _raw(path)
    report = read_compartment_report(path, population="RingA")
    assert report.data.shape == data.shape
    assert np.array_equal(report.data, data)
    assert np.array_equal(report.section_ids, elements)
    assert np.array_equal(report.node_ids, np.repeat(nodes, np.diff(pointers)))
    assert report.times[1] - report.times[0] == pytest.approx(time[2])
    part = read_compartment_report(v5_sonata / "reference" / "reports" / "compartment_i_membrane.h5",
                                   node_ids=[3], t_start=0.0, t_stop=5.0)
    assert set(part.node_ids) == {3} and part.data.shape == (len(part.times), len(part.section_ids))


def test_cli_converts_a_report_and_its_spikes_to_a_ground_truth_folder(ringtest, tmp_path):
    import subprocess
    import sys

    from si_recsim import load_ground_truth

    report = ringtest / "reference" / "lfp_reports" / "lfp_single_A.h5"
    command = [sys.executable, "-m", "si_recsim.cli", "convert", str(report), str(tmp_path / "gt"), "--to", "binary",
               "--population", "RingA", "--no-progress"]
    refused = subprocess.run(command, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "--spikes" in refused.stderr
    completed = subprocess.run(command + ["--spikes", str(ringtest / "input_spikes.h5")], capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    recording, sorting = load_ground_truth(tmp_path / "gt")
    assert np.array_equal(recording.get_traces(), read_sonata_lfp_report(report).get_traces())
    assert sorting.sampling_frequency == recording.sampling_frequency == 10000.0
    with h5py.File(ringtest / "input_spikes.h5") as file:
        nodes, times = file["spikes/RingA/node_ids"][()], file["spikes/RingA/timestamps"][()]
    inside = times < 2.0  # ms: the report's 20 samples at 0.1 ms
    assert sum(len(sorting.get_unit_spike_train(unit)) for unit in sorting.unit_ids) == inside.sum() > 0
    assert np.all(np.concatenate([sorting.get_unit_spike_train(unit) for unit in sorting.unit_ids]) < 20)
    assert set(nodes[inside].tolist()) <= set(int(unit) for unit in sorting.unit_ids)
