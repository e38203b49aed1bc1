"""Morphologies in neurodamus' section order, read with MorphIO (no NEURON).

neurodamus builds NEURON sections from MorphIO with ``Option.nrn_order`` (neurites grouped by type:
axon, basal, apical), so section id ``k >= 1`` of a cell is MorphIO section ``k - 1`` of the
morphology loaded that way, and id 0 is the soma.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError

AXON, BASAL, APICAL, MYELIN = 1, 2, 3, 6  # neurite type codes (neurodamus' SECTION_TYPES index)
_MORPHIO_TYPES = {"axon": AXON, "basal_dendrite": BASAL, "apical_dendrite": APICAL}


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

    @property
    def n_sections(self) -> int:
        return len(self.points)

    @property
    def n_axon_sections(self) -> int:
        """``nSecAxonalOrig`` of neurodamus: axon sections of the reconstruction."""
        return int(np.count_nonzero(self.types == AXON))

    def section_lengths(self) -> np.ndarray:
        """Path length of each section, µm (NEURON's ``L``)."""
        return np.array([np.linalg.norm(np.diff(points, axis=0), axis=1).sum() for points in self.points])


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
    sections = morphology.sections
    types = []
    for section in sections:
        name = section.type.name
        if name not in _MORPHIO_TYPES:
            raise InputError(f"{path}: section {section.id} has type {name}; only axon, basal and apical "
                             "dendrites map to neurodamus sections.")
        types.append(_MORPHIO_TYPES[name])
    return NeuronMorphology(points=[np.asarray(section.points, dtype=float) for section in sections],
                            types=np.array(types, dtype=np.int32),
                            parents=np.array([-1 if section.is_root else section.parent.id for section in sections],
                                             dtype=np.int64),
                            path=path)
