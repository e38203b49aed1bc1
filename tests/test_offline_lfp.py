"""The offline LFP (electrodes file x compartment report) against the point-source law, and on neurodamus data."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from si_recsim import compute_lfp
from si_recsim.physics.segments import CellSegments
from si_recsim.sonata.electrodes import Electrode
from si_recsim.sonata.electrodes_file import write_electrodes_file

pytest.importorskip("libsonata")

SIGMA = 0.3  # S/m


def _cells():
    """Two cells whose segments lie far from the electrodes (no distance floor), section ids with a gap."""
    cells = []
    for node, soma in ((4, np.array([0.0, 0.0, 0.0])), (9, np.array([60.0, 10.0, -20.0]))):
        points = soma + np.array([[0, 5, 0], [0, 25, 0], [0, 45, 0], [10, 60, 0], [20, 75, 0]], dtype=float)
        starts = np.vstack([soma, points[:-1]])
        ends = np.vstack([soma, points[1:]])
        cells.append(CellSegments(node, soma, starts, ends, section_ids=[0, 3, 3, 7, 8], neurite_types=[0, 2, 2, 3, 3]))
    return cells


def _report(path, cells, currents, shuffle_seed=0):
    """A SONATA compartment report of ``currents`` (n_times, rows in each cell's row order), with each
    cell's columns listed in another order (as neurodamus lists sections), 0.1 ms steps."""
    rng = np.random.default_rng(shuffle_seed)
    columns, element_ids, pointers, first = [], [], [0], 0
    for cell in cells:
        n_rows = len(cell.starts)
        sections = np.unique(cell.section_ids)
        order = np.concatenate([np.flatnonzero(cell.section_ids == section) for section in rng.permutation(sections)])
        columns.append(first + order)
        element_ids.append(cell.section_ids[order])
        pointers.append(pointers[-1] + n_rows)
        first += n_rows
    with h5py.File(path, "w") as file:
        group = file.create_group("report/pop")
        data = group.create_dataset("data", data=currents[:, np.concatenate(columns)].astype(np.float32))
        data.attrs["units"] = "nA"
        group["mapping/node_ids"] = np.array([cell.node_id for cell in cells], dtype=np.uint64)
        group["mapping/index_pointers"] = np.array(pointers, dtype=np.uint64)
        group["mapping/element_ids"] = np.concatenate(element_ids).astype(np.uint32)
        group["mapping/time"] = np.array([5.0, 5.0 + 0.1 * len(currents), 0.1])
        group["mapping/time"].attrs["units"] = "ms"
    return path


def test_offline_lfp_is_the_point_source_sum_of_the_report_currents(tmp_path):
    cells = _cells()
    electrodes = [Electrode("a", (200.0, 30.0, 0.0), "PointSource"), Electrode("b", (-150.0, 80.0, 40.0), "PointSource")]
    weights = write_electrodes_file({"pop": cells}, electrodes, tmp_path / "weights.h5", sigma=SIGMA)
    n_rows = sum(len(cell.starts) for cell in cells)
    currents = np.random.default_rng(1).normal(0, 0.5, (200, n_rows))  # nA, rows cell after cell, row order
    report = _report(tmp_path / "report.h5", cells, currents)

    lfp = compute_lfp(weights, report)
    # phi = I / (4 pi sigma r), at the segment midpoints (the soma centre for the soma), in volts per nA
    midpoints = np.concatenate([(cell.starts + cell.ends) / 2 for cell in cells])
    distances = np.linalg.norm(np.array([e.position for e in electrodes])[None] - midpoints[:, None], axis=2)
    expected_volts = currents.astype(np.float32).astype(float) @ (1e-9 / (4 * np.pi * SIGMA * distances * 1e-6))
    np.testing.assert_allclose(lfp.get_traces(return_in_uV=True), expected_volts * 1e6, rtol=1e-5)
    assert lfp.sampling_frequency == pytest.approx(10000.0) and lfp.get_times()[0] == pytest.approx(0.005)
    assert list(lfp.channel_ids) == ["a", "b"] and lfp.get_num_samples() == 200
    np.testing.assert_allclose(lfp.get_probe().contact_positions, [e.position for e in electrodes])
    # any window is the same samples; one cell alone is its own share
    np.testing.assert_array_equal(lfp.get_traces(start_frame=37, end_frame=121), lfp.get_traces()[37:121])
    alone = compute_lfp(weights, report, node_ids=[9]).get_traces(return_in_uV=True)
    np.testing.assert_allclose(alone, currents[:, 5:].astype(np.float32).astype(float)
                               @ (1e-9 / (4 * np.pi * SIGMA * distances[5:] * 1e-6)) * 1e6, rtol=1e-5)


def test_a_report_of_other_segments_is_refused(tmp_path):
    cells = _cells()
    weights = write_electrodes_file({"pop": cells}, [Electrode("a", (200.0, 30.0, 0.0))], tmp_path / "weights.h5")
    coarse = [CellSegments(cell.node_id, cell.soma_center, cell.starts[:3], cell.ends[:3], cell.section_ids[:3],
                           cell.neurite_types[:3]) for cell in cells]
    report = _report(tmp_path / "coarse.h5", coarse, np.zeros((3, 6)))
    with pytest.raises(ValueError, match="different discretisations"):
        compute_lfp(weights, report)


def test_offline_lfp_of_the_v5_circuit_from_the_cli(v5_sonata, tmp_path):
    report = v5_sonata / "reference" / "reports" / "compartment_i_membrane.h5"
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,type\ne0,300,1900,700,LineSource\ne1,280,1800,650,PointSource\n")
    cli = [sys.executable, "-m", "si_recsim.cli"]
    weights = tmp_path / "weights.h5"
    run = subprocess.run(cli + ["write-weights", str(v5_sonata / "simulation_config_mini.json"), str(table), str(weights),
                                "--report", str(report), "--no-progress"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lfp = compute_lfp(weights, report)
    traces = lfp.get_traces()
    assert traces.shape == (40, 2) and np.all(np.isfinite(traces)) and np.abs(traces).max() > 0
    # the sum over cells is the sum of each cell's own LFP
    single = sum(compute_lfp(weights, report, node_ids=[node]).get_traces().astype(float) for node in range(5))
    np.testing.assert_allclose(traces, single, rtol=1e-4, atol=1e-6 * np.abs(traces).max())
    spikes = tmp_path / "out.h5"
    with h5py.File(spikes, "w") as file:
        file["spikes/default/node_ids"] = np.array([0, 3], dtype=np.uint64)
        file["spikes/default/timestamps"] = np.array([1.0, 2.5])
        file["spikes/default/timestamps"].attrs["units"] = "ms"
    output = tmp_path / "lfp_gt"
    run = subprocess.run(cli + ["compute-lfp", str(weights), str(report), str(output), "--spikes", str(spikes),
                                "--no-progress"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    from si_recsim import load_ground_truth

    saved, sorting = load_ground_truth(output)
    np.testing.assert_allclose(saved.get_traces(), traces)
    assert sorting.get_num_units() >= 2


def test_a_spike_file_without_units_is_one_line(tmp_path):
    from si_recsim.io.sonata_reports import SonataSpikesSorting

    spikes = tmp_path / "out.h5"
    with h5py.File(spikes, "w") as file:
        file["spikes/default/node_ids"] = np.array([0], dtype=np.uint64)
        file["spikes/default/timestamps"] = np.array([1.0])
    with pytest.raises(ValueError, match="timestamps has no 'units' attribute"):
        SonataSpikesSorting(spikes)
