"""Weights at circuit scale: a 10,000-cell circuit, 384 electrodes, one process and two MPI ranks.

The circuit replicates the cells of neurodamus' v5_sonata test circuit (../shared/data): nodes
spread over a 400 x 2000 x 400 µm column with random rotations about the vertical axis, each naming
one of the circuit's morphologies through its own symbolic link by default
(``--distinct-morphologies``), so that every cell's morphology is read and parsed as in a circuit of
distinct reconstructions. Segment counts follow the v5 templates' length rule (tested to reproduce
neurodamus' v5 compartment report). Electrodes: a 384-contact LineSource column through the
circuit's middle.

Each run is ``si-recsim write-positions`` then ``si-recsim write-weights`` from the config, in
fresh processes: wall time, CPU time of the process tree, the largest resident memory of any
process (one rank), and the file size. BlueRecording cannot run here (it needs an MPI build of
h5py and neurodamus); its per-core rate for the coefficients alone, measured on this machine
(benchmarks/bench_weights.py: 300,000 segments x 384 electrodes in 24 s, no geometry, no file), is
turned into the time it would need for the same segments, for a ratio.

Usage::

    python benchmarks/bench_weights_circuit.py [--cells 10000] [--distinct-morphologies 10000] [--folder bench_circuit]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("SI_RECSIM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
V5 = SHARED / "neurodamus_tests" / "v5_sonata" / "sub_mini5"
BLUERECORDING_PAIRS_PER_SECOND = 300_000 * 384 / 24.0  # per core, coefficients only (bench_weights.py)


def make_circuit(folder: Path, n_cells: int, n_distinct: int, seed: int = 0) -> Path:
    """A SONATA circuit of ``n_cells`` v5 cells in a column; returns its circuit config."""
    import h5py

    rng = np.random.default_rng(seed)
    morphologies = folder / "morphologies"
    morphologies.mkdir(parents=True)
    sources = sorted((V5 / "morphologies").glob("*.asc"))
    names = []
    for index in range(max(1, n_distinct)):
        name = f"m{index:06d}"
        (morphologies / f"{name}.asc").symlink_to(sources[index % len(sources)])
        names.append(name)
    angles = rng.uniform(0, 2 * np.pi, n_cells)  # about y: quaternion (0, sin(a/2), 0, cos(a/2))
    with h5py.File(folder / "nodes.h5", "w") as file:
        group = file.create_group("nodes/default")
        group["node_type_id"] = np.full(n_cells, -1, dtype=np.int64)
        attributes = group.create_group("0")
        for axis, extent in zip("xyz", (400.0, 2000.0, 400.0)):
            attributes[axis] = rng.uniform(0, extent, n_cells)
        attributes["orientation_w"] = np.cos(angles / 2)
        attributes["orientation_x"] = np.zeros(n_cells)
        attributes["orientation_y"] = np.sin(angles / 2)
        attributes["orientation_z"] = np.zeros(n_cells)
        attributes["morphology"] = np.array([names[index % len(names)] for index in range(n_cells)], dtype=object)
        attributes["morphology"][...] = attributes["morphology"][()]  # variable-length strings
        attributes["model_template"] = np.array(["hoc:cell"] * n_cells, dtype=object)
    config = {"components": {"morphologies_dir": str(morphologies), "biophysical_neuron_models_dir": str(folder)},
              "networks": {"nodes": [{"nodes_file": str(folder / "nodes.h5"),
                                      "populations": {"default": {"type": "biophysical",
                                                                  "alternate_morphologies":
                                                                      {"neurolucida-asc": str(morphologies)}}}}],
                           "edges": []}}
    path = folder / "circuit_config.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def electrode_table(folder: Path) -> Path:
    path = folder / "electrodes.csv"
    rows = [f"e{index},200,{10.0 * index - 920:.1f},200,LineSource" for index in range(384)]
    path.write_text("name,x,y,z,type\n" + "\n".join(rows) + "\n")
    return path


def timed(command: list[str], environment: dict | None = None) -> dict:
    """Wall time, CPU time and largest resident memory of a command's process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dict(wall=wall, cpu=cpu, peak_mb=after.ru_maxrss / 1024)


def mpi_launcher() -> tuple[str, dict] | None:
    beside = Path(sys.executable).parent / "mpiexec"
    launcher = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if launcher is None:
        return None
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PMI", "OMPI_", "HYDRA_"))}
    return launcher, environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--distinct-morphologies", type=int, default=None,
                        help="morphology files the cells name (default: one per cell)")
    parser.add_argument("--folder", default="bench_circuit", help="where the circuit is made (then deleted)")
    arguments = parser.parse_args()
    if not V5.is_dir():
        sys.exit(f"v5_sonata test circuit not found at {V5} (set SI_RECSIM_SHARED_DATA)")
    folder = Path(arguments.folder).resolve()
    if folder.exists():
        sys.exit(f"{folder} exists: give another --folder (this benchmark deletes its folder afterwards)")
    folder.mkdir(parents=True)
    try:
        n_distinct = arguments.distinct_morphologies or arguments.cells
        config = make_circuit(folder, arguments.cells, n_distinct)
        table = electrode_table(folder)
        cli = [sys.executable, "-m", "si_recsim.cli"]
        print(f"{arguments.cells} v5 cells ({n_distinct} morphology files), 384 LineSource electrodes, length rule")
        positions = timed(cli + ["write-positions", str(config), str(folder / "geometry.h5"), "--no-progress"])
        one = timed(cli + ["write-weights", str(config), str(table), str(folder / "one.h5"), "--no-progress"])
        size = (folder / "one.h5").stat().st_size
        import h5py

        with h5py.File(folder / "one.h5") as file:
            segments = int(file["default/offsets"][-1])
        print(f"write-positions, 1 process: {positions['wall']:.1f} s wall, {positions['cpu']:.1f} s CPU, "
              f"{positions['peak_mb']:.0f} MB")
        print(f"write-weights, 1 process:   {one['wall']:.1f} s wall, {one['cpu']:.1f} s CPU "
              f"({1e3 * one['cpu'] / arguments.cells:.1f} ms per cell), {one['peak_mb']:.0f} MB; "
              f"{segments} segments, file {size / 1e6:.0f} MB")
        mpi = mpi_launcher()
        if mpi is None:
            print("write-weights, 2 MPI ranks: no mpiexec (pip install '.[test]')")
        else:
            launcher, environment = mpi
            two = timed([launcher, "-n", "2", *cli, "write-weights", str(config), str(table), str(folder / "two.h5"),
                         "--mpi", "--no-progress"], environment)
            same = subprocess.run(cli + ["compare-weights", str(folder / "one.h5"), str(folder / "two.h5")],
                                  capture_output=True, text=True).stdout.strip()
            print(f"write-weights, 2 MPI ranks: {two['wall']:.1f} s wall ({one['wall'] / two['wall']:.2f}x), "
                  f"{two['cpu']:.1f} s CPU, largest rank {two['peak_mb']:.0f} MB; files {same}")
        bluerecording = segments * 384 / BLUERECORDING_PAIRS_PER_SECOND
        print(f"BlueRecording's coefficient rate alone would need {bluerecording:.0f} s on one core for these "
              f"segments: {bluerecording / one['cpu']:.1f}x our whole job's CPU time (geometry and file included)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
