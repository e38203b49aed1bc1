"""Volume-conductor forward models: the one source of the electrostatics.

Every extracellular signal in si_recsim is a linear map ``V = M @ I`` from segment membrane
currents ``I`` (nA) to electrode potentials ``V``. This subpackage builds ``M`` and knows nothing
about NEURON or SpikeInterface; template generation (``EAP = M @ I(t)``) and SONATA weights files
(``scaling_factors = M.T``) both call it.
"""

from si_recsim.physics.forward import (IMAGE_FACTOR_PLANAR, line_source_matrix, point_source_matrix,
                                       segment_matrix)

__all__ = ["IMAGE_FACTOR_PLANAR", "line_source_matrix", "point_source_matrix", "segment_matrix"]
