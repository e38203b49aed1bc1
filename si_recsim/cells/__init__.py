"""Cell models and their intracellular simulation (needs the ``templates`` extra: NEURON, LFPy)."""

from si_recsim.cells.intracellular import IntracellularSettings, SpikeCurrents, simulate_spikes
from si_recsim.cells.models import BUILTIN_MODEL_NAMES, CellModel, builtin_cell_model, builtin_cell_models
from si_recsim.cells.nmc import mearec_model_folders, nmc_cell_models

__all__ = ["BUILTIN_MODEL_NAMES", "CellModel", "IntracellularSettings", "SpikeCurrents", "builtin_cell_model",
           "builtin_cell_models", "mearec_model_folders", "nmc_cell_models", "simulate_spikes"]
