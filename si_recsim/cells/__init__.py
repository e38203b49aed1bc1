"""Cell models and their intracellular simulation (needs the ``templates`` extra: NEURON, LFPy)."""

from si_recsim.cells.intracellular import IntracellularSettings, SpikeCurrents, simulate_spikes
from si_recsim.cells.models import CellModel

__all__ = ["CellModel", "IntracellularSettings", "SpikeCurrents", "simulate_spikes"]
