"""SONATA circuit geometry without NEURON, checked against neurodamus' own v5_sonata reports."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from si_recsim.sonata.circuits.axon_replacement import replaced_axon_path, stub_boundaries
from si_recsim.sonata.circuits.cell_segments import section_boundaries
from si_recsim.sonata.circuits.circuit_cells import CircuitCells, circuit_populations
from si_recsim.sonata.circuits.discretisation import ReportDiscretisation, RuleDiscretisation
from si_recsim.sonata.circuits.morphology import NeuronMorphology, load_morphology
from si_recsim.sonata.electrodes import Electrode
from si_recsim.sonata.electrodes_file import write_electrodes_file
from si_recsim.sonata.electrodes_file_reader import read_electrodes_file
from si_recsim.sonata.geometry_file import read_geometry

libsonata = pytest.importorskip("libsonata")
pytest.importorskip("morphio")

REPORT = "reference/reports/compartment_i_membrane.h5"


def _report_sections(v5_sonata, node_id):
    report = libsonata.ElementReportReader(str(v5_sonata / REPORT))["default"]
    return np.asarray(report.get_node_id_element_id_mapping(libsonata.Selection([node_id])))[:, 1]


def test_rows_follow_neurodamus_section_ids_with_its_segment_counts(v5_sonata):
    cells = CircuitCells(v5_sonata / "simulation_config_mini.json", "default", report=v5_sonata / REPORT)
    assert cells.node_ids.tolist() == [0, 1, 2, 3, 4]  # node set Mini5 of the simulation config
    for cell in cells.load(cells.node_ids):
        in_report = _report_sections(v5_sonata, cell.node_id)
        assert len(cell.starts) == len(in_report)  # the rows neurodamus instantiated
        assert not np.array_equal(in_report, np.sort(in_report))  # the report's element order is not row order
        assert np.array_equal(cell.section_ids, np.sort(in_report))  # rows by section id
        morphology = load_morphology(v5_sonata / "sub_mini5" / "morphologies" /
                                     f"{_morphology_name(v5_sonata, cell.node_id)}.asc")
        first_dendrite = 1 + morphology.n_axon_sections  # the original axon count leaves a gap after the stubs
        assert in_report[in_report > 2].min() == first_dendrite
        assert set(cell.neurite_types[cell.section_ids == 0]) == {0}
        assert set(cell.neurite_types[np.isin(cell.section_ids, [1, 2])]) == {1}
        assert set(cell.neurite_types[cell.section_ids > 2]) <= {2, 3}
        assert np.allclose(cell.starts[cell.section_ids == 0], cell.soma_center)


def test_the_length_rule_reproduces_the_v5_report(v5_sonata):
    config = v5_sonata / "simulation_config_mini.json"
    from_report = CircuitCells(config, "default", report=v5_sonata / REPORT)
    from_rule = CircuitCells(config, "default", rule=RuleDiscretisation())
    for a, b in zip(from_report.load(from_report.node_ids), from_rule.load(from_rule.node_ids)):
        assert np.array_equal(a.section_ids, b.section_ids)
        assert np.array_equal(a.starts, b.starts) and np.array_equal(a.ends, b.ends)


def test_segments_are_the_morphology_placed_by_the_node_quaternion(v5_sonata):
    from scipy.spatial.transform import Rotation

    cells = CircuitCells(v5_sonata / "simulation_config_mini.json", "default", report=v5_sonata / REPORT)
    cell = cells.load([2])[0]
    nodes = libsonata.NodeStorage(str(v5_sonata / "sub_mini5" / "default" / "nodes.h5")).open_population("default")
    quaternion = [nodes.get_attribute(f"orientation_{axis}", 2) for axis in "xyzw"]
    position = np.array([nodes.get_attribute(axis, 2) for axis in "xyz"])
    morphology = load_morphology(v5_sonata / "sub_mini5" / "morphologies" / f"{_morphology_name(v5_sonata, 2)}.asc")
    section_id = int(cell.section_ids[-1])  # an apical section
    local = morphology.points[section_id - 1]
    placed = local @ Rotation.from_quat(quaternion).as_matrix().T + position
    rows = cell.section_ids == section_id
    assert np.allclose(cell.starts[rows][0], placed[0]) and np.allclose(cell.ends[rows][-1], placed[-1])
    lengths = np.linalg.norm(cell.ends[rows] - cell.starts[rows], axis=1)
    assert lengths.sum() <= morphology.section_lengths()[section_id - 1] + 1e-9  # chords of the path
    assert np.allclose(cell.soma_center, position)


def test_boundaries_at_equal_path_fractions():
    points = np.column_stack([np.arange(0, 101, 10.0), np.zeros(11), np.zeros(11)])
    boundaries = section_boundaries(np.vstack([points[:1], points]), 3)  # a repeated first point is dropped
    assert np.allclose(boundaries[:, 0], [0, 100 / 3, 200 / 3, 100])
    assert np.allclose(section_boundaries(np.zeros((3, 3)), 2), 0.0)  # zero length: finite


def test_replaced_axon_is_laid_along_the_reconstructed_axon():
    axon = np.column_stack([np.zeros(4), np.zeros(4), [1.0, 2.0, 3.0, 1073.0]])
    morphology = NeuronMorphology(points=[axon], types=np.array([1]), parents=np.array([-1]), path=None)
    path = replaced_axon_path(morphology, [axon], np.zeros(3))
    assert np.allclose(stub_boundaries(*path, "stub1", 5)[:, 2], np.arange(0, 31, 6))
    assert np.allclose(stub_boundaries(*path, "stub2", 5)[:, 2], np.arange(30, 61, 6))
    assert np.allclose(stub_boundaries(*path, "myelin", 5)[:, 2], np.arange(60, 1061, 200))


def test_a_short_axon_is_extended_in_a_straight_line():
    axon = np.column_stack([np.zeros(3), [5.0, 10.0, 20.0], np.zeros(3)])
    morphology = NeuronMorphology(points=[axon], types=np.array([1]), parents=np.array([-1]), path=None)
    points, arc = replaced_axon_path(morphology, [axon], np.zeros(3))
    assert arc[-1] == pytest.approx(1060.0)
    assert np.allclose(stub_boundaries(points, arc, "myelin", 2), [[0, 60, 0], [0, 560, 0], [0, 1060, 0]])


def test_rule_with_myelin_adds_the_last_section_id(v5_sonata):
    cells = CircuitCells(v5_sonata / "simulation_config_mini.json", "default",
                         rule=RuleDiscretisation(stub_segments=5, myelin_segments=5))
    cell = cells.load([0])[0]
    morphology = load_morphology(v5_sonata / "sub_mini5" / "morphologies" / f"{_morphology_name(v5_sonata, 0)}.asc")
    assert np.count_nonzero(cell.section_ids == 1) == 5
    myelin = cell.section_ids == morphology.n_sections + 1
    assert np.count_nonzero(myelin) == 5 and set(cell.neurite_types[myelin]) == {6}
    spans = np.linalg.norm(cell.ends[myelin] - cell.starts[myelin], axis=1)
    assert 500.0 < spans.sum() <= 1000.0 + 1e-9  # chords of 1 mm of the reconstructed axon


def test_without_axon_replacement_the_reconstructed_axon_is_kept(v5_sonata):
    cells = CircuitCells(v5_sonata / "simulation_config_mini.json", "default", replace_axons=False)
    cell = cells.load([0])[0]
    morphology = load_morphology(v5_sonata / "sub_mini5" / "morphologies" / f"{_morphology_name(v5_sonata, 0)}.asc")
    assert set(np.unique(cell.section_ids)) == set(range(morphology.n_sections + 1))
    assert set(cell.neurite_types[(cell.section_ids >= 1) & (cell.section_ids <= morphology.n_axon_sections)]) == {1}


def test_layouts_that_do_not_fit_the_morphology_are_refused(v5_sonata):
    from si_recsim.sonata.circuits.cell_segments import cell_segments
    from si_recsim.sonata.circuits.discretisation import Layout

    morphology = load_morphology(v5_sonata / "sub_mini5" / "morphologies" / f"{_morphology_name(v5_sonata, 0)}.asc")
    with pytest.raises(ValueError, match="no-replace-axons"):  # an original axon section under axon replacement
        cell_segments(0, morphology, np.zeros(3), np.eye(3), Layout(np.array([0, 5]), np.array([1, 1])), True)
    with pytest.raises(ValueError, match="beyond the"):
        cell_segments(0, morphology, np.zeros(3), np.eye(3), Layout(np.array([0, 900]), np.array([1, 1])), False)


def test_bad_circuit_inputs_are_named(v5_sonata, tmp_path):
    config = v5_sonata / "simulation_config_mini.json"
    with pytest.raises(ValueError, match="no biophysical population 'nope'"):
        CircuitCells(config, "nope")
    with pytest.raises(ValueError, match="Node set 'Nowhere' is not in"):
        CircuitCells(config, "default", node_set="Nowhere")
    with pytest.raises(ValueError, match="do not exist"):
        CircuitCells(config, "default", node_ids=[7])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CircuitCells(tmp_path / "missing.json", "default")
    with pytest.raises(ValueError, match="no population 'other'"):
        ReportDiscretisation(v5_sonata / REPORT, "other")


def test_node_sets_select_cells(v5_sonata):
    excitatory = circuit_populations(v5_sonata / "simulation_config_mini.json", node_set="Excitatory")
    assert excitatory["default"].node_ids.tolist() == [2, 4]


@pytest.mark.slow
def test_write_weights_and_positions_from_a_simulation_config(v5_sonata, tmp_path, run_mpi):
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,layer,region,type\n"
                     "e0,300,1900,700,L1,S1,LineSource\ne1,280,1800,650,L2,S1,PointSource\n"
                     "e2,290,1850,690,L2,S1,ObjectiveCSD_Sphere\n")
    config, report = v5_sonata / "simulation_config_mini.json", v5_sonata / REPORT

    def cli(*arguments):
        completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", *map(str, arguments)],
                                   capture_output=True, text=True, check=False)
        assert completed.returncode == 0, completed.stderr
        return completed

    cli("write-weights", config, table, tmp_path / "direct.h5", "--report", report, "--with-neurite-type",
        "-j", "2", "--cells-per-batch", "2", "--no-progress")  # worker processes load their own cells
    cli("write-positions", config, tmp_path / "geometry.h5", "--report", report, "--no-progress")
    cli("write-weights", tmp_path / "geometry.h5", table, tmp_path / "via_geometry.h5", "-j", "2",
        "--with-neurite-type", "--no-progress")
    assert cli("compare-weights", tmp_path / "direct.h5", tmp_path / "via_geometry.h5").stdout.strip() == "equal"
    mpi = run_mpi("write-weights", str(config), str(table), str(tmp_path / "mpi.h5"), "--report", str(report),
                  "--mpi", "--with-neurite-type", "--no-progress")
    assert mpi.returncode == 0, mpi.stderr
    assert cli("compare-weights", tmp_path / "direct.h5", tmp_path / "mpi.h5").stdout.strip() == "equal"

    geometry = read_geometry(tmp_path / "geometry.h5")["default"]
    written = read_electrodes_file(tmp_path / "direct.h5")["populations"]["default"]
    assert np.diff(written["offsets"]).tolist() == [len(cell.starts) for cell in geometry] == \
        [len(_report_sections(v5_sonata, node)) for node in range(5)]
    assert np.array_equal(written["neurite_types"], np.concatenate([cell.neurite_types for cell in geometry]))
    # neurodamus' newer reader (libsonata) sees the same rows
    population = libsonata.ElectrodeReader(str(tmp_path / "direct.h5"))["default"]
    factors = population.get(node_ids=libsonata.Selection([3]))
    low, high = written["offsets"][3], written["offsets"][4]
    assert np.array_equal(np.asarray(factors.data), written["scaling_factors"][low:high])
    assert population.electrode_names == ["e0", "e1", "e2"]


def test_circuit_batches_bound_memory_and_do_not_change_the_file(v5_sonata, tmp_path):
    electrodes = [Electrode("e0", (300.0, 1900.0, 700.0))]
    cells = CircuitCells(v5_sonata / "simulation_config_mini.json", "default", report=v5_sonata / REPORT)
    one = write_electrodes_file({"default": cells}, electrodes, tmp_path / "one.h5", cells_per_batch=1)
    many = write_electrodes_file({"default": cells}, electrodes, tmp_path / "many.h5", cells_per_batch=512)
    with h5py.File(one) as a, h5py.File(many) as b:
        assert np.array_equal(a["electrodes/default/scaling_factors"][()], b["electrodes/default/scaling_factors"][()])


def _morphology_name(v5_sonata, node_id):
    nodes = libsonata.NodeStorage(str(v5_sonata / "sub_mini5" / "default" / "nodes.h5")).open_population("default")
    return nodes.get_attribute("morphology", node_id)


@pytest.mark.slow
def test_a_failing_rank_stops_the_mpi_job_without_an_output_file(v5_sonata, tmp_path, run_mpi):
    import shutil

    circuit = tmp_path / "v5_sonata"
    shutil.copytree(v5_sonata, circuit)
    (circuit / "sub_mini5" / "morphologies" / f"{_morphology_name(v5_sonata, 3)}.asc").unlink()
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,layer,region,type\ne0,300,1900,700,L1,S1,LineSource\n")
    output = tmp_path / "weights.h5"
    completed = run_mpi("write-weights", str(circuit / "simulation_config_mini.json"), str(table), str(output),
                        "--mpi", "--cells-per-batch", "1", "--no-progress", timeout=120)
    assert completed.returncode != 0
    assert "not found" in completed.stderr and _morphology_name(v5_sonata, 3) in completed.stderr
    assert not output.exists()


def _write_weights(*arguments):
    return subprocess.run([sys.executable, "-m", "si_recsim.cli", "write-weights", *map(str, arguments),
                           "--no-progress"], capture_output=True, text=True, check=False)


def _report_without_units(v5_sonata, path):
    with h5py.File(v5_sonata / REPORT) as source, h5py.File(path, "w") as copy:
        source.copy("report", copy)
        del copy["report/default/data"].attrs["units"]
    return path


@pytest.mark.parametrize("case, message", [
    ("soma", "one element per cell (a soma or summation report)"),
    ("summation", "one element per cell (a soma or summation report)"),
    ("kept axons", "made with replaced axons"),
    ("no units", "has no 'units' attribute"),
    ("bad config", "libsonata rejects"),
])
def test_reports_and_configs_that_cannot_give_the_rows_are_refused(v5_sonata, tmp_path, case, message):
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z\ne0,300,1900,700\n")
    config, report, extra = v5_sonata / "simulation_config_mini.json", v5_sonata / REPORT, []
    if case == "soma":
        report = v5_sonata / "reference/reports/soma_report.h5"
    elif case == "summation":
        report = v5_sonata / "reference/reports/summation_i_membrane.h5"
    elif case == "kept axons":
        extra = ["--no-replace-axons"]
    elif case == "no units":
        report = _report_without_units(v5_sonata, tmp_path / "no_units.h5")
    else:
        config = tmp_path / "circuit_config.json"
        config.write_text('{"networks": {"nodes": [{"nodes_file": 3}]}}')
    completed = _write_weights(config, table, tmp_path / "weights.h5", "--report", report, *extra)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in completed.stderr and "HDF5" not in completed.stderr
    assert not (tmp_path / "weights.h5").exists()


def _report_of_layouts(path, node_ids, layouts):
    """A one-time-step SONATA compartment report whose elements are the layouts' segments."""
    elements = [np.repeat(layout.section_ids, layout.counts) for layout in layouts]
    with h5py.File(path, "w") as file:
        group = file.create_group("report/default")
        data = group.create_dataset("data", data=np.zeros((1, sum(map(len, elements))), dtype=np.float32))
        data.attrs["units"] = "nA"
        group["mapping/node_ids"] = np.asarray(node_ids, dtype=np.uint64)
        group["mapping/index_pointers"] = np.concatenate([[0], np.cumsum(list(map(len, elements)))]).astype(np.uint64)
        group["mapping/element_ids"] = np.concatenate(elements).astype(np.uint32)
        group["mapping/time"] = np.array([0.0, 0.1, 0.1])
        group["mapping/time"].attrs["units"] = "ms"
    return path


def test_a_report_of_the_reconstructed_axons_needs_them_kept(v5_sonata, tmp_path):
    config = v5_sonata / "simulation_config_mini.json"
    kept = CircuitCells(config, "default", rule=RuleDiscretisation(), replace_axons=False)
    morphologies = [load_morphology(v5_sonata / "sub_mini5" / "morphologies" / f"{_morphology_name(v5_sonata, node)}.asc")
                    for node in kept.node_ids]
    report = _report_of_layouts(tmp_path / "kept.h5", kept.node_ids,
                                RuleDiscretisation().layouts(kept.node_ids, morphologies, replace_axons=False))
    rows = sum(len(cell.starts) for cell in CircuitCells(config, "default", report=report,
                                                         replace_axons=False).load(kept.node_ids))
    assert rows == sum(len(cell.starts) for cell in kept.load(kept.node_ids))  # the report's own layout
    with pytest.raises(ValueError, match="keeps the reconstructed axons"):
        CircuitCells(config, "default", report=report).load(kept.node_ids)


def test_boundaries_of_many_sections_at_once_are_numpys_interpolation_of_each():
    from si_recsim.sonata.circuits.cell_segments import sections_boundaries

    rng = np.random.default_rng(0)
    sections, counts = [], []
    for index in range(300):
        points = np.cumsum(rng.normal(size=(rng.integers(1, 12), 3)) * rng.uniform(0, 20), axis=0) + 500 * rng.normal(size=3)
        if index % 7 == 0 and len(points) > 2:
            points[1] = points[0]  # a repeated point
        if index % 11 == 0:
            points[:] = points[0]  # a section of zero length
        sections.append(points)
        counts.append(int(rng.integers(1, 9)))
    for points, count, boundaries in zip(sections, counts, sections_boundaries(sections, counts)):
        unique = points[np.concatenate([[True], np.any(np.diff(points, axis=0) != 0, axis=1)])]
        if len(unique) == 1:
            expected = np.repeat(unique, count + 1, axis=0)
        else:
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(unique, axis=0), axis=1))])
            expected = np.column_stack([np.interp(np.arange(count + 1) / count, arc / arc[-1], unique[:, axis])
                                        for axis in range(3)])
        np.testing.assert_allclose(boundaries, expected, rtol=0, atol=1e-9)


def test_a_probe_placed_along_the_column_of_the_somata(v5_sonata, tmp_path):
    from si_recsim.probes import contact_positions_3d, probe_from_name
    from si_recsim.sonata.circuits.nodes import node_placements, resolve_config
    from si_recsim.sonata.circuits.probe_placement import place_probe
    from si_recsim.sonata.electrodes import read_electrodes

    config = v5_sonata / "simulation_config_mini.json"
    probe = probe_from_name("Neuropixels-384")
    electrodes = place_probe(config, probe, "default")
    placed = np.array([electrode.position for electrode in electrodes])
    contacts = contact_positions_3d(probe)
    somata = node_placements(resolve_config(config).circuit_config, "default", np.arange(5)).positions
    # a rigid placement: every distance between contacts kept
    np.testing.assert_allclose(np.linalg.norm(placed[:, None] - placed[None], axis=2),
                               np.linalg.norm(contacts[:, None] - contacts[None], axis=2), atol=1e-6)
    np.testing.assert_allclose(placed.mean(axis=0), somata.mean(axis=0), atol=1e-6)
    # the shank (probe y) along the somata's direction of largest spread
    shank = np.linalg.svd(placed - placed.mean(axis=0))[2][0]
    column = np.linalg.svd(somata - somata.mean(axis=0))[2][0]
    assert abs(shank @ column) == pytest.approx(1.0, abs=1e-6)  # the staggered contacts tilt their own axis slightly
    nearest = np.argmin(np.linalg.norm(placed[:, None] - somata[None], axis=2), axis=1)
    with h5py.File(v5_sonata / "sub_mini5" / "default" / "nodes.h5") as file:
        layers = file["nodes/default/0/layer"][()]
    assert [electrode.layer for electrode in electrodes] == [str(layer) for layer in layers[nearest]]
    table = tmp_path / "probe.csv"
    run = subprocess.run([sys.executable, "-m", "si_recsim.cli", "place-probe", str(config), "Neuropixels-384",
                          str(table), "--center", "300", "1900", "700"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    read = np.array([electrode.position for electrode in read_electrodes(table)])
    np.testing.assert_allclose(read.mean(axis=0), [300, 1900, 700], atol=1e-4)
