"""LineSource weights throughput: si_recsim next to BlueRecording's weight computation.

Synthetic geometry (cells of one soma and 99 one-segment sections) and a 384-contact column of
LineSource electrodes; compute only (no file), one core, best of ``--repeats`` runs each. si_recsim
runs in the batches its electrodes file uses; BlueRecording 0.7.0 runs its own pure computation
step (``bluerecording.weights.get_weights``) on the same geometry, in the chunks of whole cells
(at most 2000 segments) that ``get_and_save_weights`` uses, and the two results are compared.

BlueRecording imports only with an MPI build of h5py and NEURON (reference notes, installation
experiment); where it is not importable its rate measured on this machine (300,000 segments x 384
electrodes in 24 s) is printed instead, labelled as such.

Usage::

    python benchmarks/bench_weights.py [--segments 100000] [--electrodes 384] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

REFERENCE_PAIRS_PER_SECOND = 300_000 * 384 / 24.0  # BlueRecording 0.7.0, measured (reference notes)


def synthetic_cells(n_segments: int, seed: int = 0):
    from si_recsim.physics.segments import CellSegments

    rng = np.random.default_rng(seed)
    cells = []
    for node in range(n_segments // 100):
        soma = rng.uniform(-500, 500, 3)
        points = soma + np.cumsum(rng.normal(0, 10, (100, 3)), axis=0)  # 99 segment ends after the soma
        cells.append(CellSegments(node, soma, np.vstack([soma, points[:-1]]), np.vstack([soma, points[1:]]),
                                  section_ids=np.arange(100), neurite_types=np.r_[0, np.full(99, 2)]))
    return cells


def bluerecording_inputs(cells):
    """The same geometry as BlueRecording's positions frame (3 x boundary points, columns (id, section))
    and compartment list (id, section)."""
    import pandas as pd

    points, labels, compartments = [], [], []
    for cell in cells:
        points.append(cell.soma_center[None])
        labels.append((cell.node_id, 0))
        compartments.append((cell.node_id, 0))
        for section, (start, end) in enumerate(zip(cell.starts[1:], cell.ends[1:]), start=1):
            points.extend([start[None], end[None]])
            labels.extend([(cell.node_id, section)] * 2)
            compartments.append((cell.node_id, section))
    columns = pd.MultiIndex.from_tuples(labels, names=["id", "section"])
    return pd.DataFrame(np.vstack(points).T, columns=columns), np.array(compartments, dtype=np.int64)


def best_time(function, repeats: int) -> float:
    elapsed = float("inf")
    for _ in range(repeats):  # best of several runs: the machine is shared and noisy
        start = time.perf_counter()
        function()
        elapsed = min(elapsed, time.perf_counter() - start)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--electrodes", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    from si_recsim.sonata.coefficients import batch_coefficients
    from si_recsim.sonata.electrodes import Electrode
    from si_recsim.sonata.electrodes_file import CELLS_PER_BATCH

    cells = synthetic_cells(arguments.segments)
    electrodes = [Electrode(f"e{i}", (0.0, 0.0, 10.0 * i - 1920), "LineSource") for i in range(arguments.electrodes)]
    sigmas = np.full(len(electrodes), 0.277)
    pairs = sum(len(cell.starts) for cell in cells) * len(electrodes)

    def ours_run():  # batch by batch, as the electrodes file is written
        return [batch_coefficients(cells[first: first + CELLS_PER_BATCH], electrodes, sigmas)
                for first in range(0, len(cells), CELLS_PER_BATCH)]

    elapsed = best_time(ours_run, arguments.repeats)
    ours = pairs / elapsed
    print(f"si_recsim:     {pairs / 1e6:.1f} M segment-electrode pairs in {elapsed:.2f} s = {ours / 1e6:.1f} M pairs/s")
    if importlib.util.find_spec("bluerecording") is None:
        print(f"BlueRecording not importable here; its rate measured on this machine: "
              f"{REFERENCE_PAIRS_PER_SECOND / 1e6:.1f} M pairs/s -> ratio {ours / REFERENCE_PAIRS_PER_SECOND:.1f}x "
              "(reference, not this run)")
        return
    from bluerecording.electrodes import Electrode as TheirElectrode
    from bluerecording.electrodes import ElectrodeType
    from bluerecording.weights import DEFAULT_SEGMENT_CHUNK_SIZE, _iter_cell_chunks, get_weights

    positions, compartments = bluerecording_inputs(cells)
    their_electrodes = [TheirElectrode(e.name, np.asarray(e.position), ElectrodeType.LINE_SOURCE) for e in electrodes]
    chunks = list(_iter_cell_chunks(positions, compartments, DEFAULT_SEGMENT_CHUNK_SIZE))

    def their_run():  # chunk by chunk, as get_and_save_weights writes them
        return [get_weights(positions.iloc[:, points], compartments[rows], their_electrodes, sigma=list(sigmas),
                            verbose=False).to_numpy().T for rows, points in chunks]

    their_elapsed = best_time(their_run, arguments.repeats)
    theirs = pairs / their_elapsed
    print(f"BlueRecording: {pairs / 1e6:.1f} M segment-electrode pairs in {their_elapsed:.2f} s = "
          f"{theirs / 1e6:.1f} M pairs/s")
    print(f"ratio (si_recsim / BlueRecording, same run): {ours / theirs:.1f}x")
    ours_values, their_values = np.vstack(ours_run()), np.vstack(their_run())
    relative = np.max(np.abs(ours_values - their_values) / np.maximum(np.abs(their_values), 1e-300))
    print(f"largest relative difference of the coefficients: {relative:.1e}")


if __name__ == "__main__":
    main()
