"""Segment boundaries of one placed cell, rows in neurodamus' section-id order."""

from __future__ import annotations

import numpy as np

from si_recsim.errors import InputError
from si_recsim.physics.segments import CellSegments
from si_recsim.sonata.circuits.axon_replacement import replaced_axon_path, stub_boundaries
from si_recsim.sonata.circuits.discretisation import Layout
from si_recsim.sonata.circuits.morphology import AXON, MYELIN, NeuronMorphology


def section_boundaries(points: np.ndarray, n_segments: int) -> np.ndarray:
    """``n_segments + 1`` points at equal path-length fractions along a section's points.

    Consecutive repeated points are dropped first; a section of zero length gives repeated points.
    """
    points = np.asarray(points, dtype=float)
    keep = np.concatenate([[True], np.any(np.diff(points, axis=0) != 0, axis=1)])
    points = points[keep]
    if len(points) == 1:
        return np.repeat(points, n_segments + 1, axis=0)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    targets = np.arange(n_segments + 1) / n_segments
    return np.column_stack([np.interp(targets, arc / arc[-1], points[:, axis]) for axis in range(3)])


def cell_segments(node_id: int, morphology: NeuronMorphology, position: np.ndarray, rotation: np.ndarray,
                  layout: Layout, replace_axons: bool) -> CellSegments:
    """Segments of a cell placed at ``position`` and turned by ``rotation`` (3×3, applied about the
    morphology origin, i.e. the soma), one row per segment of ``layout``.

    Somatic segments sit at the node position (a point source each). With ``replace_axons``,
    section ids 1 and 2 are the axon stubs and an id past the morphology's sections is the myelin
    section, all laid along the reconstructed axon (:mod:`si_recsim.sonata.circuits.axon_replacement`).
    """
    position = np.asarray(position, dtype=float)
    placed = [points @ rotation.T + position for points in morphology.points]
    n_axon = morphology.n_axon_sections
    path = None
    starts, ends, section_ids, types = [], [], [], []
    for section_id, n_segments in zip(layout.section_ids.tolist(), layout.counts.tolist()):
        if section_id == 0:
            boundaries, kind = np.repeat(position[None], n_segments + 1, axis=0), 0
        elif replace_axons and (section_id in (1, 2) or section_id > morphology.n_sections):
            if section_id > morphology.n_sections + 1:
                raise InputError(_beyond(node_id, morphology, section_id))
            if path is None:
                path = replaced_axon_path(morphology, placed, position)
            stub = {1: "stub1", 2: "stub2"}.get(section_id, "myelin")
            boundaries = stub_boundaries(*path, stub, n_segments)
            kind = MYELIN if stub == "myelin" else AXON
        elif section_id > morphology.n_sections:
            raise InputError(_beyond(node_id, morphology, section_id))
        elif replace_axons and section_id <= n_axon:
            raise InputError(f"Node {node_id}: section id {section_id} is a reconstructed axon section, which axon "
                             "replacement removes; the layout comes from a simulation without it: use "
                             "replace_axons=False (--no-replace-axons).")
        else:
            boundaries = section_boundaries(placed[section_id - 1], n_segments)
            kind = int(morphology.types[section_id - 1])
        starts.append(boundaries[:-1])
        ends.append(boundaries[1:])
        section_ids.append(np.full(n_segments, section_id))
        types.append(np.full(n_segments, kind))
    return CellSegments(int(node_id), position, np.concatenate(starts), np.concatenate(ends),
                        np.concatenate(section_ids), np.concatenate(types))


def _beyond(node_id: int, morphology: NeuronMorphology, section_id: int) -> str:
    return (f"Node {node_id}: section id {section_id} is beyond the {morphology.n_sections} sections of "
            f"{morphology.path.name} (and not a myelin section); the report or rule does not match this morphology.")
