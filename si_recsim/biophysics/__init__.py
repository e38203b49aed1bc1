"""Biophysics: cell models, intracellular simulation, placement in front of a probe and template-library
generation. The only subpackage that imports NEURON and LFPy, and only inside the functions that
simulate, so importing it stays light."""

from si_recsim.biophysics.cell_models import BUILTIN_MODEL_NAMES, CellModel, builtin_cell_model, builtin_cell_models
from si_recsim.biophysics.intracellular import IntracellularSettings, simulate_spikes
from si_recsim.biophysics.nmc_models import mearec_model_folders, nmc_cell_models
from si_recsim.biophysics.template_generation import generate_template_library

__all__ = [
    "BUILTIN_MODEL_NAMES",
    "CellModel",
    "IntracellularSettings",
    "builtin_cell_model",
    "builtin_cell_models",
    "generate_template_library",
    "mearec_model_folders",
    "nmc_cell_models",
    "simulate_spikes",
]
