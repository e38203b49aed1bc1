"""Where the sections of a replaced axon lie (BBP templates' "replace axons").

BBP e-model templates delete the reconstructed axon and create two 30 µm stub sections (section
ids 1 and 2) and, in newer templates, a 1000 µm myelin section (the last section id). NEURON gives
them no 3-D points, so, as BlueRecording does, they are laid along the reconstructed axon:

1. the path starts at the soma centre and follows, root to tip, the first axon branch (leaf sections
   in MorphIO order) whose path length from the soma reaches 1060 µm, or else the longest branch,
   extended in a straight line along its last two points to 1060 µm;
2. stub 1 spans path length 0-30 µm, stub 2 30-60 µm, myelin 60-1060 µm; segment boundaries are
   at equal fractions of the nominal length, linearly interpolated (and extrapolated) from the path
   points inside the window (or the nearest two when fewer than two fall inside).
"""

from __future__ import annotations

import numpy as np

from si_recsim.errors import InputError
from si_recsim.sonata.circuits.morphology import AXON, NeuronMorphology, section_lengths

STUB_LENGTH = 30.0  # µm, each of the two stub sections
MYELIN_LENGTH = 1000.0  # µm
PATH_LENGTH = 2 * STUB_LENGTH + MYELIN_LENGTH


def replaced_axon_path(morphology: NeuronMorphology, points: list, soma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 3) along the replaced axon and their path length from the soma centre, µm.

    Parameters
    ----------
    morphology : NeuronMorphology
    points : list of np.ndarray
        The sections' points in the frame wanted (e.g. circuit coordinates).
    soma : np.ndarray
        Soma centre in that frame.
    """
    leaves = np.flatnonzero((morphology.types == AXON) & ~np.isin(np.arange(morphology.n_sections),
                                                                     morphology.parents))
    if leaves.size == 0:
        raise InputError(f"{morphology.path.name} has no axon to lay the replaced axon along; use "
                         "replace_axons=False (--no-replace-axons) for cells without an axon.")
    lengths = _path_lengths_to_ends(morphology, points, soma)[leaves]
    reaching = np.flatnonzero(lengths > PATH_LENGTH)
    best = _branch(morphology, leaves[reaching[0]] if reaching.size else leaves[np.argmax(lengths)])
    path = np.vstack([np.asarray(soma, dtype=float)[None]] + [points[section] for section in best])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    beyond = np.flatnonzero(arc > PATH_LENGTH)
    if beyond.size:  # up to the first point past the path length
        path, arc = path[: beyond[0] + 1], arc[: beyond[0] + 1]
    if arc[-1] < PATH_LENGTH:  # extend along the last two points
        slope = (path[-1] - path[-2]) / (arc[-1] - arc[-2])
        extra = path[-1] + slope * (PATH_LENGTH - arc[-1])
        arc = np.append(arc, arc[-1] + np.linalg.norm(extra - path[-1]))
        path = np.vstack([path, extra])
    keep = np.concatenate([[True], np.diff(arc) > 0])  # repeated points (section joins)
    return path[keep], arc[keep]


def stub_boundaries(path: np.ndarray, arc: np.ndarray, kind: str, n_segments: int) -> np.ndarray:
    """Segment boundaries (n_segments + 1, 3) of a replaced-axon section: "stub1", "stub2" or "myelin"."""
    if kind == "stub1":
        start, length = 0.0, STUB_LENGTH
        inside = np.flatnonzero(arc <= STUB_LENGTH)
        if inside.size < 2:
            inside = np.arange(2)
    elif kind == "stub2":
        start, length = STUB_LENGTH, STUB_LENGTH
        inside = np.flatnonzero((arc >= start) & (arc <= start + length))
        if inside.size < 2:
            low, high = int(np.argmin(np.abs(arc - start))), int(np.argmin(np.abs(arc - start - length)))
            if low == high:
                low, high = (low, high + 1) if high < len(arc) - 1 else (low - 1, high)
            inside = np.array([low, high])
    elif kind == "myelin":
        start, length = 2 * STUB_LENGTH, MYELIN_LENGTH
        inside = np.flatnonzero(arc >= start)
        if inside.size == 1:
            inside = np.array([inside[0] - 1, inside[0]])
    else:
        raise InputError(f"kind must be 'stub1', 'stub2' or 'myelin', got {kind!r}.")
    fractions = (arc[inside] - start) / length
    targets = np.arange(n_segments + 1) / n_segments
    return np.column_stack([_interpolate(targets, fractions, path[inside, axis]) for axis in range(3)])


def _interpolate(targets: np.ndarray, known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation that extrapolates from the end pieces."""
    order = np.argsort(known, kind="stable")
    known, values = known[order], values[order]
    result = np.interp(targets, known, values)
    below, above = targets < known[0], targets > known[-1]
    if below.any():
        slope = (values[1] - values[0]) / (known[1] - known[0])
        result[below] = values[0] + slope * (targets[below] - known[0])
    if above.any():
        slope = (values[-1] - values[-2]) / (known[-1] - known[-2])
        result[above] = values[-1] + slope * (targets[above] - known[-1])
    return result


def _branch(morphology: NeuronMorphology, leaf: int) -> list[int]:
    sections = [int(leaf)]
    while morphology.parents[sections[-1]] >= 0:
        sections.append(int(morphology.parents[sections[-1]]))
    return sections[::-1]


def _path_lengths_to_ends(morphology: NeuronMorphology, points: list, soma: np.ndarray) -> np.ndarray:
    """Path length from the soma centre to the last point of every section, µm (the jump from the
    soma centre or the parent's last point to a section's first point included), in one pass."""
    parents = morphology.parents
    firsts = np.array([section[0] for section in points])
    lasts = np.array([section[-1] for section in points])
    origins = np.where((parents < 0)[:, None], np.asarray(soma, dtype=float)[None], lasts[np.maximum(parents, 0)])
    own = (np.linalg.norm(firsts - origins, axis=1) + section_lengths(points)).tolist()
    ends = [0.0] * len(points)
    for section in _parents_first(parents).tolist():
        parent = int(parents[section])
        ends[section] = (ends[parent] if parent >= 0 else 0.0) + own[section]
    return np.array(ends)


def _parents_first(parents: np.ndarray) -> np.ndarray:
    """Section indices ordered so that every parent comes before its children."""
    if np.all(parents < np.arange(len(parents))):  # MorphIO's depth-first order
        return np.arange(len(parents))
    depth = np.zeros(len(parents), dtype=np.int64)
    for section in range(len(parents)):
        walker = parents[section]
        while walker >= 0:
            depth[section] += 1
            walker = parents[walker]
    return np.argsort(depth, kind="stable")
