"""SONATA circuits without NEURON: node placement (libsonata), morphologies in neurodamus' section
order (MorphIO), segment counts from a compartment report or a length rule, replaced axons, and the
resulting segment geometry as a cell source for :mod:`si_recsim.sonata`."""

from si_recsim.sonata.circuits.cell_segments import cell_segments, section_boundaries
from si_recsim.sonata.circuits.circuit_cells import CircuitCells, circuit_populations
from si_recsim.sonata.circuits.discretisation import Layout, ReportDiscretisation, RuleDiscretisation
from si_recsim.sonata.circuits.morphology import NeuronMorphology, load_morphology

__all__ = [
    "CircuitCells",
    "Layout",
    "NeuronMorphology",
    "ReportDiscretisation",
    "RuleDiscretisation",
    "cell_segments",
    "circuit_populations",
    "load_morphology",
    "section_boundaries",
]
