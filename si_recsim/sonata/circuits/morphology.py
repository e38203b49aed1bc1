"""Morphologies in neurodamus' section order, read with MorphIO (no NEURON).

neurodamus builds NEURON sections from MorphIO with ``Option.nrn_order`` (neurites grouped by type:
axon, basal, apical), so section id ``k >= 1`` of a cell is MorphIO section ``k - 1`` of the
morphology loaded that way, and id 0 is the soma.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError

AXON, BASAL, APICAL, MYELIN = 1, 2, 3, 6  # neurite type codes (neurodamus' SECTION_TYPES index)
_MORPHIO_TYPES = {"axon": AXON, "basal_dendrite": BASAL, "apical_dendrite": APICAL}
MORPHOLOGIES_KEPT = 512  # distinct morphologies a process keeps in memory (about 100 kB each)


@dataclass
class NeuronMorphology:
    """Sections of a morphology in neurodamus' order, in the morphology's own (local) frame.

    Attributes
    ----------
    points : list of np.ndarray
        (n_points, 3) µm per section; section id ``k >= 1`` is ``points[k - 1]``.
    types : np.ndarray
        Neurite type code per section (1 axon, 2 basal dendrite, 3 apical dendrite).
    parents : np.ndarray
        Parent section index per section, -1 for sections on the soma.
    path : Path
    """

    points: list
    types: np.ndarray
    parents: np.ndarray
    path: Path
    stacked_points: np.ndarray | None = None  # the points of every section, one after another (``points`` are views)

    @property
    def n_sections(self) -> int:
        return len(self.points)

    @property
    def n_axon_sections(self) -> int:
        """``nSecAxonalOrig`` of neurodamus: axon sections of the reconstruction."""
        return int(np.count_nonzero(self.types == AXON))

    def section_lengths(self) -> np.ndarray:
        """Path length of each section, µm (NEURON's ``L``)."""
        return section_lengths(self.points)


def section_lengths(points: list) -> np.ndarray:
    """Path length along each of a list of (n_points, 3) point arrays, µm, in one pass over all points."""
    sizes = np.array([len(section) for section in points])
    if not len(points):
        return np.zeros(0)
    steps = np.linalg.norm(np.diff(np.concatenate(points), axis=0), axis=1)
    steps = np.append(steps, 0.0)
    steps[np.cumsum(sizes) - 1] = 0.0  # the jump from a section's last point to the next section's first
    return np.add.reduceat(steps, np.concatenate([[0], np.cumsum(sizes)[:-1]]))


def load_morphology(path: str | Path) -> NeuronMorphology:
    """Read a morphology (.asc, .swc or .h5) with MorphIO in neurodamus' section order."""
    import morphio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Morphology {path} does not exist; check the circuit's morphologies_dir "
                                "(or alternate_morphologies) and the node's morphology name.")
    try:
        morphology = morphio.Morphology(str(path), options=morphio.Option.nrn_order)
    except morphio.MorphioError as error:
        raise InputError(f"MorphIO cannot read {path}: {error}") from error
    codes = np.asarray(morphology.section_types, dtype=np.int64)
    types = np.zeros(len(codes), dtype=np.int32)
    for name, code in _MORPHIO_TYPES.items():
        types[codes == int(getattr(morphio.SectionType, name))] = code
    unknown = np.flatnonzero(types == 0)
    if unknown.size:
        name = morphio.SectionType(int(codes[unknown[0]])).name
        raise InputError(f"{path}: section {unknown[0]} has type {name}; only axon, basal and apical "
                         "dendrites map to neurodamus sections.")
    parents = np.full(len(codes), -1, dtype=np.int64)
    for parent, children in morphology.connectivity.items():
        if parent >= 0:
            parents[children] = parent
    points = np.asarray(morphology.points, dtype=float)
    offsets = np.asarray(morphology.section_offsets, dtype=np.int64)
    return NeuronMorphology(points=np.split(points, offsets[1:-1]), types=types, parents=parents, path=path,
                            stacked_points=points)


def load_morphologies(paths: list) -> list[NeuronMorphology]:
    """:func:`load_morphology` of each path, each file read once per process while it is unchanged
    (circuits reuse morphologies across many cells); the morphologies are shared, not copied."""
    morphologies = []
    for path in paths:
        path = Path(path)
        try:
            status = path.stat()
        except OSError:
            morphologies.append(load_morphology(path))  # the error names the missing file
            continue
        morphologies.append(_cached_morphology(str(path), status.st_size, status.st_mtime_ns))
    return morphologies


@lru_cache(maxsize=MORPHOLOGIES_KEPT)
def _cached_morphology(path: str, size: int, modified_ns: int) -> NeuronMorphology:
    return load_morphology(path)
