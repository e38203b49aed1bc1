"""Volume-conductor forward models and segment geometry: the one source of the electrostatics.

Every extracellular signal in si_recsim is a linear map ``V = M @ I`` from segment membrane
currents ``I`` (nA) to electrode potentials ``V``. This subpackage builds ``M`` and holds the
segment-geometry container shared by template generation, circuits and weights; it knows nothing
about NEURON or SpikeInterface.
"""

from si_recsim.physics.forward import IMAGE_FACTOR_PLANAR, line_source_matrix, point_source_matrix, segment_matrix
from si_recsim.physics.segments import NEURITE_TYPES, CellSegments, point_source_positions

__all__ = ["IMAGE_FACTOR_PLANAR", "NEURITE_TYPES", "CellSegments", "line_source_matrix", "point_source_matrix",
           "point_source_positions", "segment_matrix"]
