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
    return sections_boundaries([points], [n_segments])[0]


def sections_boundaries(sections: list, n_segments: list) -> list:
    """:func:`section_boundaries` of many sections at once (one pass over all their points).

    Parameters
    ----------
    sections : list of np.ndarray
        (n_points, 3) per section.
    n_segments : list of int

    Returns
    -------
    list of np.ndarray
        (n_segments + 1, 3) per section.
    """
    if not sections:
        return []
    points = np.concatenate([np.asarray(section, dtype=float) for section in sections])
    sizes = np.array([len(section) for section in sections])
    owner = np.repeat(np.arange(len(sections)), sizes)
    first_of_section = np.zeros(len(points), dtype=bool)
    first_of_section[np.concatenate([[0], np.cumsum(sizes)[:-1]])] = True
    keep = first_of_section.copy()
    keep[1:] |= np.any(np.diff(points, axis=0) != 0, axis=1)
    points, owner, first_of_section = points[keep], owner[keep], first_of_section[keep]
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    steps = np.concatenate([[0.0], steps])
    steps[first_of_section] = 0.0
    starts = np.flatnonzero(first_of_section)
    stops = np.append(starts[1:], len(points))
    arc = np.cumsum(steps)
    arc -= np.repeat(arc[starts], stops - starts)  # path length from each section's first point
    totals = arc[stops - 1]
    n_segments = np.asarray(n_segments, dtype=np.int64)
    target_owner = np.repeat(np.arange(len(sections)), n_segments + 1)
    fractions = np.concatenate([np.arange(count + 1) / count for count in n_segments])
    safe_totals = np.where(totals > 0, totals, 1.0)
    along = arc / safe_totals[owner]  # in [0, 1] within each section
    # the interval of each target: the last point at or before it, within its section
    index = np.searchsorted(owner * 2.0 + along, target_owner * 2.0 + fractions, side="right") - 1
    index = np.clip(index, starts[target_owner], np.maximum(stops[target_owner] - 2, starts[target_owner]))
    following = np.minimum(index + 1, stops[target_owner] - 1)
    width = along[following] - along[index]
    weight = np.where(width > 0, (fractions - along[index]) / np.where(width > 0, width, 1.0), 0.0)
    values = points[index] + weight[:, None] * (points[following] - points[index])
    ends = np.cumsum(n_segments + 1)
    values[ends - n_segments - 1] = points[starts]  # exact first and last points
    values[ends - 1] = np.where((totals > 0)[:, None], points[stops - 1], points[starts])
    return np.split(values, ends[:-1])


def cell_segments(node_id: int, morphology: NeuronMorphology, position: np.ndarray, rotation: np.ndarray,
                  layout: Layout, replace_axons: bool) -> CellSegments:
    """Segments of a cell placed at ``position`` and turned by ``rotation`` (3×3, applied about the
    morphology origin, i.e. the soma), one row per segment of ``layout``.

    Somatic segments sit at the node position (a point source each). With ``replace_axons``,
    section ids 1 and 2 are the axon stubs and an id past the morphology's sections is the myelin
    section, all laid along the reconstructed axon (:mod:`si_recsim.sonata.circuits.axon_replacement`).
    """
    position = np.asarray(position, dtype=float)
    if morphology.stacked_points is not None:  # one product for every section
        sizes = [len(points) for points in morphology.points]
        placed = np.split(morphology.stacked_points @ rotation.T + position, np.cumsum(sizes)[:-1])
    else:
        placed = [points @ rotation.T + position for points in morphology.points]
    n_axon = morphology.n_axon_sections
    path = None
    ordinary = [(section_id, n_segments) for section_id, n_segments in zip(layout.section_ids.tolist(),
                                                                             layout.counts.tolist())
                if 0 < section_id <= morphology.n_sections and not (replace_axons and section_id <= n_axon)]
    along_sections = dict(zip([section_id for section_id, _ in ordinary],
                              sections_boundaries([placed[section_id - 1] for section_id, _ in ordinary],
                                                  [n_segments for _, n_segments in ordinary])))
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
            boundaries = along_sections[section_id]
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
