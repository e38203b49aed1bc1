"""Segment geometry of one cell: the container shared by template generation, circuits and weights.

Per cell: its SONATA node id, the soma centre and per segment (compartment) the two boundary
points (µm), the neurodamus section id, the neurite type code (:data:`NEURITE_TYPES`: 0 soma,
1 axon, 2 basal dendrite, 3 apical dendrite, 4 AIS, 5 node, 6 myelin) and optionally the diameter
(µm). Rows of an electrodes file follow section id, then segment order (:meth:`CellSegments.ordered`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from si_recsim.errors import InputError


def point_source_positions(starts: np.ndarray, ends: np.ndarray, somatic: np.ndarray,
                           soma_center: np.ndarray) -> np.ndarray:
    """Where each segment's current sits when it is taken as a point source, (n_segments, 3) µm.

    A segment's midpoint; somatic segments sit at the soma centre (the "soma as a point" convention
    of neurodamus electrodes files and BlueRecording, used by weights and by template generation
    with ``source_model: soma_as_point``).
    """
    positions = (np.asarray(starts, dtype=float) + np.asarray(ends, dtype=float)) / 2.0
    positions[np.asarray(somatic, dtype=bool)] = np.asarray(soma_center, dtype=float).reshape(3)
    return positions


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
            raise InputError(f"Cell {self.node_id}: starts, ends, section_ids and neurite_types must describe the "
                             f"same {n} segments.")
        if self.diameters is not None:
            self.diameters = np.asarray(self.diameters, dtype=float).reshape(n)
        if not (np.all(np.isfinite(self.starts)) and np.all(np.isfinite(self.ends))):
            raise InputError(f"Cell {self.node_id}: segment coordinates must be finite.")

    @property
    def somatic(self) -> np.ndarray:
        return self.neurite_types == 0

    def point_positions(self) -> np.ndarray:
        """(n_segments, 3) µm: midpoints, somatic segments at the soma centre (:func:`point_source_positions`)."""
        return point_source_positions(self.starts, self.ends, self.somatic, self.soma_center)

    def ordered(self) -> CellSegments:
        """Rows by section id, keeping the given order (segment order) within a section."""
        order = np.argsort(self.section_ids, kind="stable")
        return CellSegments(self.node_id, self.soma_center, self.starts[order], self.ends[order],
                            self.section_ids[order], self.neurite_types[order],
                            None if self.diameters is None else self.diameters[order])
