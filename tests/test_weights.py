"""SONATA electrodes files: the 2-cell worked example, layout, inputs and validation."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from si_recsim.physics.segments import CellSegments
from si_recsim.sonata.electrodes import Electrode, ElectrodeError, electrodes_from_probe, read_electrodes
from si_recsim.sonata.electrodes_file import write_electrodes_file
from si_recsim.sonata.electrodes_file_reader import compare_electrodes_files, read_electrodes_file
from si_recsim.sonata.geometry_file import read_geometry, write_geometry

# BlueRecording 0.7.0's own output for this example (reference notes, 2b), V/nA
GOLDEN = np.array([
    [5.30516477e-06, 2.60107103e-06],
    [5.27041887e-06, 2.73229887e-06],
    [5.07558932e-06, 3.03772851e-06],
    [5.30516477e-06, 1.85717914e-06],
    [4.83622950e-06, 1.81220976e-06],
    [4.08897378e-06, 1.72577023e-06],
])


def _worked_example():
    def cell(node_id, soma, direction):
        soma = np.asarray(soma, dtype=float)
        points = soma + np.outer([0, 10, 20], direction)
        starts = np.vstack([soma, points[:2]])
        ends = np.vstack([soma, points[1:]])
        return CellSegments(node_id, soma, starts, ends, section_ids=[0, 1, 1], neurite_types=[0, 2, 2])

    cells = [cell(1, (0, 100, 0), (0, 1, 0)), cell(0, (0, 0, 0), (1, 0, 0))]  # out of order on purpose
    electrodes = [Electrode("e0", (0.0, 50.0, 0.0), "LineSource", layer="L5", region="S1FL"),
                  Electrode("e1", (100.0, 0.0, 20.0), "PointSource")]
    return {"pop": cells}, electrodes


def test_worked_example_matches_bluerecording(tmp_path):
    populations, electrodes = _worked_example()
    path = write_electrodes_file(populations, electrodes, tmp_path / "weights.h5", sigma=0.3, with_neurite_types=True)
    with h5py.File(path, "r") as file:
        assert sorted(file) == ["electrodes", "pop"]
        assert file["pop/node_ids"].dtype == np.uint64 and list(file["pop/node_ids"][()]) == [0, 1]
        assert file["pop/offsets"].dtype == np.int64 and list(file["pop/offsets"][()]) == [0, 3, 6]
        assert list(file["pop/neurite_types"][()]) == [0, 2, 2, 0, 2, 2]
        factors = file["electrodes/pop/scaling_factors"]
        assert factors.dtype == np.float64 and factors.shape == (6, 2)
        assert np.allclose(factors[()], GOLDEN, rtol=1e-8, atol=0)
        assert file["electrodes/e0/pop"][()] == 0 and file["electrodes/e1/pop"][()] == 1
        assert file["electrodes/e0/pop"].shape == () and file["electrodes/e0/pop"].dtype == np.int64
        assert np.array_equal(file["electrodes/e0/position"][()], [0, 50, 0])
        assert file["electrodes/e0/type"][()].decode() == "LineSource"
        assert file["electrodes/e0/region"][()].decode() == "S1FL" and file["electrodes/e0/layer"][()].decode() == "L5"
        assert file["electrodes/e1/layer"][()].decode() == "NA"
        assert sorted(file["electrodes"]) == ["e0", "e1", "pop"]
    millivolts = write_electrodes_file(populations, electrodes, tmp_path / "mv.h5", sigma=0.3, units="mV/nA")
    assert np.allclose(read_electrodes_file(millivolts)["populations"]["pop"]["scaling_factors"], GOLDEN * 1e3,
                       rtol=1e-8)


def test_compare_is_node_order_agnostic(tmp_path):
    populations, electrodes = _worked_example()
    first = write_electrodes_file(populations, electrodes, tmp_path / "a.h5", sigma=0.3)
    second = write_electrodes_file(populations, electrodes[::-1], tmp_path / "b.h5", sigma=0.3)
    assert compare_electrodes_files(first, second) == []
    # swap node order in a copy: still equal
    with h5py.File(second, "r+") as file:
        factors = file["electrodes/pop/scaling_factors"][()]
        file["electrodes/pop/scaling_factors"][()] = np.vstack([factors[3:], factors[:3]])
        file["pop/node_ids"][()] = np.array([1, 0], dtype=np.uint64)
    assert compare_electrodes_files(first, second) == []
    other = write_electrodes_file(populations, electrodes, tmp_path / "c.h5", sigma=0.4)
    problems = compare_electrodes_files(first, other)
    assert problems and "coefficients differ" in problems[0]
    completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", "compare-weights", str(first), str(other)],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 1 and "coefficients differ" in completed.stdout


def test_axis_contacts_and_zero_length_segments_stay_finite(tmp_path):
    cell = CellSegments(0, (0, 0, 0), starts=[[0, 0, 0], [0, 0, 0], [5, 0, 0]], ends=[[0, 0, 0], [0, 0, 10], [5, 0, 0]],
                        section_ids=[0, 1, 2], neurite_types=[0, 3, 3])
    electrodes = [Electrode("axis", (0.0, 0.0, 30.0), "LineSource"), Electrode("on", (5.0, 0.0, 0.0), "PointSource")]
    data = read_electrodes_file(write_electrodes_file({"p": [cell]}, electrodes, tmp_path / "w.h5"))
    assert np.all(np.isfinite(data["populations"]["p"]["scaling_factors"]))


def test_objective_csd_methods(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.uniform(-100, 100, (400, 3))
    cell = CellSegments(0, (0, 0, 0), starts=points, ends=points + 0.001, section_ids=np.arange(400) + 1,
                        neurite_types=np.full(400, 2))
    column = [Electrode(f"s{i}", (0.0, 0.0, 40.0 * i), "ObjectiveCSD_Plane") for i in range(-2, 3)]
    sphere = [Electrode("sphere", (0.0, 0.0, 0.0), "ObjectiveCSD_Sphere", radius=50.0)]
    disk = [Electrode(f"d{i}", (0.0, 0.0, 40.0 * i), "ObjectiveCSD_Disk", radius=30.0) for i in range(2)]
    data = read_electrodes_file(write_electrodes_file({"p": [cell]}, column + sphere + disk, tmp_path / "csd.h5"))
    factors = data["populations"]["p"]["scaling_factors"]
    midpoints = points + 0.0005
    assert set(np.unique(factors)) <= {0.0, 1.0}
    # plane electrode at z = 0: slab of half the 40 um spacing either side
    assert np.array_equal(factors[:, 2].astype(bool), np.abs(midpoints[:, 2]) <= 20.0)
    assert np.array_equal(factors[:, 5].astype(bool), np.linalg.norm(midpoints, axis=1) <= 50.0)
    expected_disk = (np.abs(midpoints[:, 2]) <= 20.0) & (np.linalg.norm(midpoints[:, :2], axis=1) <= 30.0)
    assert np.array_equal(factors[:, 6].astype(bool), expected_disk)


def test_electrode_tables_and_validation(tmp_path):
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z,layer,region,type\n"
                     "a,0,0,0,NA,NA,LineSource\nb,1,2,3,L5,S1,ObjectiveCSD_Disk_50_10\nc,4,5,6,,,\n")
    electrodes = read_electrodes(table)
    assert [electrode.layer for electrode in electrodes] == ["NA", "L5", "NA"]
    assert electrodes[1].type == "ObjectiveCSD_Disk" and (electrodes[1].radius, electrodes[1].thickness) == (50, 10)
    assert electrodes[2].type == "LineSource"
    json_table = tmp_path / "electrodes.json"
    json_table.write_text('[{"name": 1, "x": 0, "y": 0, "z": 0, "type": "PointSource"}]')
    assert read_electrodes(json_table)[0].name == "1"
    for body, message in [("a,0,0,0,NA,NA,Dipole\n", "unknown electrode type"),
                          ("a,0,0,nan,NA,NA,LineSource\n", "finite"),
                          ("a/b,0,0,0,NA,NA,LineSource\n", "nest HDF5 groups"),
                          ("a,0,0,0,NA,NA,LineSource\na,1,1,1,NA,NA,LineSource\n", "repeats row")]:
        table.write_text("name,x,y,z,layer,region,type\n" + body)
        with pytest.raises(ElectrodeError, match=message):
            read_electrodes(table)
    with pytest.raises(ElectrodeError, match="population"):
        write_electrodes_file({"e": []}, [Electrode("e", (0.0, 0.0, 0.0))], tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_probe_electrodes_and_cli(tmp_path):
    from si_recsim import probe_from_name

    probe = probe_from_name("Neuropixels-24")
    rotation = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # shank along -z... then moved
    electrodes = electrodes_from_probe(probe, position=(10.0, 20.0, 500.0), rotation=rotation)
    assert len(electrodes) == 24
    assert np.allclose(electrodes[0].position, np.asarray([*probe.contact_positions[0], 0.0]) @ rotation.T
                       + [10, 20, 500])
    populations, _ = _worked_example()
    geometry = write_geometry(populations, tmp_path / "geometry.h5")
    assert [cell.node_id for cell in read_geometry(geometry)["pop"]] == [0, 1]
    table = tmp_path / "e.csv"
    table.write_text("name,x,y,z,layer,region,type\ne0,0,50,0,L5,S1FL,LineSource\ne1,100,0,20,NA,NA,PointSource\n")
    output = tmp_path / "weights.h5"
    command = [sys.executable, "-m", "si_recsim.cli", "write-weights", str(geometry), str(table), str(output),
               "--sigma", "0.3"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert np.allclose(read_electrodes_file(output)["populations"]["pop"]["scaling_factors"], GOLDEN, rtol=1e-8)
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists" in again.stderr


def _lead_field_file(path, gradient, current=2.0):
    """A Sim4Life-style export of the linear potential gradient . r (SI units) and its field -gradient."""
    axes = [np.linspace(-500e-6, 500e-6, 11)] * 3
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    potential = grid @ np.asarray(gradient)
    with h5py.File(path, "w") as file:
        file["CurrentApplied"] = current
        for name, axis in zip("xyz", axes):
            file[f"Meshes/grid/axis_{name}"] = axis
        base = "FieldGroups/run/AllFields"
        file[f"{base}/EM Potential(x,y,z,f0)/_Object/Snapshots/0/comp0"] = np.stack([potential, 0 * potential], -1)
        for index in range(3):
            shape = [10 if axis == index else 11 for axis in range(3)]
            values = np.full(shape, -gradient[index])
            file[f"{base}/EM E(x,y,z,f0)/_Object/Snapshots/0/comp{index}"] = np.stack([values, 0 * values], -1)
    return path


def test_reciprocity_methods_from_a_lead_field(tmp_path):
    gradient = np.array([3.0, -1.0, 2.0])
    field = _lead_field_file(tmp_path / "lead.h5", gradient)
    cell = CellSegments(7, (10, 20, 30), starts=[[10, 20, 30], [10, 20, 30], [40, 20, 30]],
                        ends=[[10, 20, 30], [40, 20, 30], [40, 80, 30]], section_ids=[0, 1, 2], neurite_types=[0, 2, 2])
    electrodes = [Electrode("r", (0.0, 0.0, 0.0), "Reciprocity"), Electrode("d", (0.0, 0.0, 0.0), "DipoleReciprocity")]
    data = read_electrodes_file(write_electrodes_file({"p": [cell]}, electrodes, tmp_path / "w.h5",
                                                      lead_fields=[field, field]))
    factors = data["populations"]["p"]["scaling_factors"]
    midpoints = np.array([[10, 20, 30], [25, 20, 30], [40, 50, 30]], dtype=float) * 1e-6
    assert np.allclose(factors[:, 0], midpoints @ gradient / 2.0, rtol=1e-9)
    # -((m - c) . E) / I with E = -gradient
    assert np.allclose(factors[:, 1], (midpoints - midpoints.mean(axis=0)) @ gradient / 2.0, rtol=1e-9, atol=1e-20)
    with pytest.raises(ValueError, match="need one lead-field file each"):
        write_electrodes_file({"p": [cell]}, electrodes, tmp_path / "x.h5", lead_fields=[field])
    far = CellSegments(8, (900, 0, 0), starts=[[900, 0, 0]], ends=[[900, 0, 0]], section_ids=[0], neurite_types=[0])
    with pytest.raises(ValueError, match="outside the potential grid"):
        write_electrodes_file({"p": [far]}, electrodes[:1], tmp_path / "y.h5", lead_fields=[field])
    assert not (tmp_path / "y.h5").exists()


def _random_circuit(n_cells=1300, seed=0):
    rng = np.random.default_rng(seed)
    cells = []
    for node in rng.permutation(n_cells):
        soma = rng.uniform(-300, 300, 3)
        n = int(rng.integers(2, 8))
        points = soma + np.cumsum(rng.normal(0, 15, (n + 1, 3)), axis=0)
        cells.append(CellSegments(int(node), soma, np.vstack([soma, points[:-1]]), np.vstack([soma, points[1:]]),
                                  section_ids=np.concatenate([[0], np.sort(rng.integers(1, 4, n))]),
                                  neurite_types=np.concatenate([[0], np.full(n, 3)])))
    return {"cortex": cells}


@pytest.mark.slow
def test_processes_and_mpi_ranks_write_the_same_file(tmp_path, run_mpi):
    populations = _random_circuit()
    electrodes = [Electrode(f"e{i}", (0.0, 0.0, 100.0 * i), "LineSource") for i in range(-3, 4)]
    serial = write_electrodes_file(populations, electrodes, tmp_path / "serial.h5")
    parallel = write_electrodes_file(populations, electrodes, tmp_path / "parallel.h5", n_jobs=2)
    geometry = write_geometry(populations, tmp_path / "geometry.h5")
    table = tmp_path / "e.csv"
    table.write_text("name,x,y,z,layer,region,type\n" + "".join(f"e{i},0,0,{100 * i},NA,NA,LineSource\n"
                                                               for i in range(-3, 4)))
    completed = run_mpi("write-weights", str(geometry), str(table), str(tmp_path / "mpi.h5"), "--mpi", "--no-progress")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "by 2 MPI rank(s), gathered to rank 0" in completed.stdout  # the plain h5py wheel
    for other in (parallel, tmp_path / "mpi.h5"):
        with h5py.File(serial, "r") as a, h5py.File(other, "r") as b:
            assert np.array_equal(a["electrodes/cortex/scaling_factors"][()], b["electrodes/cortex/scaling_factors"][()])
            assert np.array_equal(a["cortex/node_ids"][()], b["cortex/node_ids"][()])
            assert np.array_equal(a["cortex/offsets"][()], b["cortex/offsets"][()])


@pytest.mark.slow
def test_mpi_io_ranks_write_their_rows_into_the_same_file(tmp_path, run_mpiio):
    populations = _random_circuit()
    populations["second"] = populations["cortex"][:5]
    electrodes = [Electrode(f"e{i}", (0.0, 0.0, 100.0 * i), "LineSource") for i in range(-3, 4)]
    serial = write_electrodes_file(populations, electrodes, tmp_path / "serial.h5", with_neurite_types=True)
    geometry = write_geometry(populations, tmp_path / "geometry.h5")
    table = tmp_path / "e.csv"
    table.write_text("name,x,y,z,layer,region,type\n" + "".join(f"e{i},0,0,{100 * i},NA,NA,LineSource\n"
                                                               for i in range(-3, 4)))
    completed = run_mpiio("write-weights", str(geometry), str(table), str(tmp_path / "mpiio.h5"), "--mpi",
                          "--with-neurite-type", "--cells-per-batch", "3", "--no-progress")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "by 2 MPI rank(s), MPI-IO" in completed.stdout
    assert compare_electrodes_files(serial, tmp_path / "mpiio.h5", rtol=0.0) == []
    with h5py.File(serial, "r") as a, h5py.File(tmp_path / "mpiio.h5", "r") as b:
        for key in ("cortex/offsets", "cortex/neurite_types", "second/offsets", "electrodes/e0/position"):
            assert np.array_equal(a[key][()], b[key][()])
        assert sorted(a) == sorted(b) and sorted(a["electrodes"]) == sorted(b["electrodes"])


def test_four_sphere_eeg_equals_the_cells_dipole_in_lfpykit(tmp_path):
    from lfpykit.eegmegcalc import FourSphereVolumeConductor

    rng = np.random.default_rng(4)
    soma = np.array([0.0, 0.0, 78000.0])  # a cell near the top of the brain sphere
    points = soma + np.cumsum(rng.normal(0, 20, (9, 3)), axis=0)
    cell = CellSegments(0, soma, np.vstack([soma, points[:-1]]), np.vstack([soma, points[1:]]),
                        section_ids=np.arange(9), neurite_types=np.r_[0, np.full(8, 3)])
    electrodes = [Electrode("Cz", (0.0, 0.0, 90000.0), "FourSphere"), Electrode("side", (90000.0, 0.0, 0.0), "FourSphere")]
    factors = read_electrodes_file(write_electrodes_file({"p": [cell]}, electrodes, tmp_path / "eeg.h5",
                                                         units="mV/nA"))["populations"]["p"]["scaling_factors"]
    currents = rng.normal(size=9)
    currents -= currents.mean()
    midpoints = np.vstack([soma, (cell.starts[1:] + cell.ends[1:]) / 2])
    centre = midpoints.mean(axis=0)
    dipole = ((midpoints - centre) * currents[:, None]).sum(axis=0)
    expected = FourSphereVolumeConductor(np.array([[0, 0, 90000.0], [90000.0, 0, 0]])).get_dipole_potential(
        dipole[:, None], centre)[:, 0]
    assert np.allclose(currents @ factors, expected, rtol=1e-9)
    assert abs(expected[0]) > abs(expected[1])  # the nearby scalp electrode sees more
    outside = CellSegments(1, (0, 0, 95000.0), [[0, 0, 95000.0]], [[0, 0, 95000.0]], [0], [0])
    with pytest.raises(ValueError, match="outside the brain sphere"):
        write_electrodes_file({"p": [outside]}, electrodes, tmp_path / "x.h5")


class _MustNotLoad:
    """A cell source that fails the test if any cell is loaded."""

    node_ids = np.arange(3)

    def batch(self, node_ids):
        raise AssertionError("cells were loaded before the electrodes were checked")


@pytest.mark.parametrize("electrode, message", [
    (Electrode("nan", (0.0, float("nan"), 0.0)), "coordinates must be finite"),
    (Electrode("a/b", (0.0, 0.0, 0.0)), "contains '/'"),
    (Electrode("odd", (0.0, 0.0, 0.0), "Monopole"), "unknown electrode type 'Monopole'"),
    (Electrode("flat", (0.0, 0.0)), "needs x, y and z"),
    (Electrode("wide", (0.0, 0.0, 0.0), "ObjectiveCSD_Sphere", radius=-5.0), "radius must be a positive"),
])
def test_electrode_objects_are_checked_before_any_cell_is_loaded(tmp_path, electrode, message):
    with pytest.raises(ElectrodeError, match=message):
        write_electrodes_file({"p": _MustNotLoad()}, [Electrode("fine", (0.0, 0.0, 0.0)), electrode], tmp_path / "w.h5")
    assert not list(tmp_path.iterdir())


def test_units_scale_the_analytic_columns_and_not_the_lead_field_ones(tmp_path):
    field = _lead_field_file(tmp_path / "lead.h5", np.array([3.0, -1.0, 2.0]))
    cell = CellSegments(7, (10, 20, 30), starts=[[10, 20, 30], [10, 20, 30]], ends=[[10, 20, 30], [40, 20, 30]],
                        section_ids=[0, 1], neurite_types=[0, 2])
    electrodes = [Electrode("line", (0.0, 0.0, 0.0)), Electrode("r", (0.0, 0.0, 0.0), "Reciprocity"),
                  Electrode("csd", (10.0, 20.0, 30.0), "ObjectiveCSD_Sphere", radius=5.0)]
    factors = {units: read_electrodes_file(write_electrodes_file(
        {"p": [cell]}, electrodes, tmp_path / f"{units.replace('/', '_')}.h5", units=units, lead_fields=[field])
    )["populations"]["p"]["scaling_factors"] for units in ("V/nA", "mV/nA")}
    np.testing.assert_allclose(factors["mV/nA"][:, 0], 1000 * factors["V/nA"][:, 0], rtol=1e-12)  # V -> mV
    np.testing.assert_array_equal(factors["mV/nA"][:, 1:], factors["V/nA"][:, 1:])  # V/A of the export; 0/1
