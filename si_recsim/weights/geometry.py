"""The segment geometry of cells, as weights need it: a plain form any circuit reader can fill.

Per cell: its SONATA node id, the soma centre, and per segment (compartment) the two boundary
points, the neurodamus section id and the neurite type code (0 soma, 1 axon, 2 basal dendrite,
3 apical dendrite, 4 AIS, 5 node, 6 myelin), optionally the diameter. Rows of the electrodes file
follow section id, then segment order, which is what neurodamus multiplies the coefficients with.

A geometry file (HDF5) holds one group per population: ``node_ids``, ``offsets`` (rows of node i
are ``offsets[i]:offsets[i+1]``), ``starts``, ``ends`` (µm), ``section_ids``, ``neurite_types``,
``soma_centers`` and optionally ``diameters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from si_recsim.extractors.atomic import atomic_h5

NEURITE_TYPES = ("soma", "axon", "dend", "apic", "ais", "node", "myelin")


@dataclass
class CellSegments:
    """Segments of one cell, in any order (see :meth:`ordered`)."""

    node_id: int
    soma_center: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    section_ids: np.ndarray
    neurite_types: np.ndarray
    diameters: np.ndarray | None = None

    def __post_init__(self):
        self.soma_center = np.asarray(self.soma_center, dtype=float).reshape(3)
        self.starts = np.asarray(self.starts, dtype=float).reshape(-1, 3)
        self.ends = np.asarray(self.ends, dtype=float).reshape(-1, 3)
        self.section_ids = np.asarray(self.section_ids, dtype=np.int64)
        self.neurite_types = np.asarray(self.neurite_types, dtype=np.int32)
        n = len(self.starts)
        if not (self.ends.shape == (n, 3) and self.section_ids.shape == (n,) and self.neurite_types.shape == (n,)):
            raise ValueError(f"Cell {self.node_id}: starts, ends, section_ids and neurite_types must describe the "
                             f"same {n} segments.")
        if self.diameters is not None:
            self.diameters = np.asarray(self.diameters, dtype=float).reshape(n)
        if not (np.all(np.isfinite(self.starts)) and np.all(np.isfinite(self.ends))):
            raise ValueError(f"Cell {self.node_id}: segment coordinates must be finite.")

    @property
    def somatic(self) -> np.ndarray:
        return self.neurite_types == 0

    def ordered(self) -> CellSegments:
        """Rows by section id, keeping the given order (segment order) within a section."""
        order = np.argsort(self.section_ids, kind="stable")
        return CellSegments(self.node_id, self.soma_center, self.starts[order], self.ends[order],
                            self.section_ids[order], self.neurite_types[order],
                            None if self.diameters is None else self.diameters[order])


def write_geometry(populations: dict[str, list[CellSegments]], file_path: str | Path) -> Path:
    """Write cells' segments to a geometry file (rows ordered per cell, cells by node id)."""
    with atomic_h5(file_path) as file:
        for population, cells in populations.items():
            cells = sorted((cell.ordered() for cell in cells), key=lambda cell: cell.node_id)
            group = file.create_group(population)
            group.create_dataset("node_ids", data=np.array([cell.node_id for cell in cells], dtype=np.uint64))
            group.create_dataset("offsets", data=np.concatenate([[0], np.cumsum([len(c.starts) for c in cells])]))
            group.create_dataset("soma_centers", data=np.array([cell.soma_center for cell in cells]))
            for key in ("starts", "ends", "section_ids", "neurite_types"):
                group.create_dataset(key, data=np.concatenate([getattr(cell, key) for cell in cells]))
            if all(cell.diameters is not None for cell in cells):
                group.create_dataset("diameters", data=np.concatenate([cell.diameters for cell in cells]))
    return Path(file_path)


def read_geometry(file_path: str | Path) -> dict[str, list[CellSegments]]:
    """Cells' segments from a geometry file."""
    populations = {}
    with h5py.File(file_path, "r") as file:
        for population, group in file.items():
            offsets = group["offsets"][()]
            arrays = {key: group[key][()] for key in ("starts", "ends", "section_ids", "neurite_types")}
            diameters = group["diameters"][()] if "diameters" in group else None
            populations[population] = [
                CellSegments(int(node_id), center, *(arrays[key][low:high] for key in
                                                      ("starts", "ends", "section_ids", "neurite_types")),
                             None if diameters is None else diameters[low:high])
                for node_id, center, low, high in zip(group["node_ids"][()], group["soma_centers"][()],
                                                      offsets[:-1], offsets[1:])]
    return populations
