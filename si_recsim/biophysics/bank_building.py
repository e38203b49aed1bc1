"""Making cell-currents banks: cell models simulated once with NEURON, their spikes' currents kept.

Each model is calibrated with MEArec's current step (:mod:`si_recsim.biophysics.intracellular`);
up to ``spikes_per_model`` spikes of its step response are kept, spread evenly over the train from
the second spike to the last (so later spikes of a train, smaller and wider, are in the bank too and
units of one model are not clones). The packaged banks are regenerated with::

    python -m si_recsim.biophysics.bank_building si_recsim/data/cell_bank_bbp_l5.h5 --models mearec
    python -m si_recsim.biophysics.bank_building si_recsim/data/cell_bank_builtin.h5 --models builtin

(the first needs MEArec installed, for its 13 Blue Brain L5 models, and compiles their mechanisms).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from si_recsim.biophysics.cell_models import CellModel, builtin_cell_models
from si_recsim.biophysics.intracellular import IntracellularSettings, simulate_spikes
from si_recsim.errors import InputError, SetupError
from si_recsim.library.cell_bank import CellCurrents, write_cell_bank
from si_recsim.library.cell_classes import cell_category
from si_recsim.params.recordings import CellTypeParams

BBP_LICENCE = "CC BY-NC-SA 4.0"
BBP_ATTRIBUTION = ("Blue Brain Project (EPFL), Neocortical Microcircuit Collaboration portal layer-5 cell models "
                   "(Markram et al. 2015, Cell 163:456; Ramaswamy et al. 2015, Front. Neural Circuits 9:44), as "
                   "shipped with MEArec; currents simulated by si_recsim")
BUILTIN_LICENCE = "MIT"
BUILTIN_ATTRIBUTION = "si_recsim's built-in cell models (NEURON hh and pas mechanisms only)"


def kept_spikes(n_spikes: int, spikes_per_model: int) -> np.ndarray:
    """Positions of the spikes kept: ``spikes_per_model`` spread evenly over ``n_spikes``, both ends included."""
    if n_spikes <= spikes_per_model:
        return np.arange(n_spikes)
    return np.unique(np.round(np.linspace(0, n_spikes - 1, spikes_per_model)).astype(int))


def bank_cells(models: list[CellModel], spikes_per_model: int = 6, settings: IntracellularSettings | None = None,
               cache_folder: str | Path | None = None, licence: str = "") -> list[CellCurrents]:
    """Every model simulated (or read from the cache), with its E/I class, licence and kept spikes."""
    rules = CellTypeParams()
    cells = []
    for model in models:
        currents = simulate_spikes(model, settings, cache_folder)
        cell = currents.subset(kept_spikes(currents.n_spikes, spikes_per_model))
        category = cell_category(model.name, rules.excitatory, rules.inhibitory)
        cell.cell_type = category if category != "U" else ""
        cell.provenance["model_licence"] = licence
        cells.append(cell)
    return cells


def build_bank(output: str | Path, models: str = "mearec", spikes_per_model: int = 6,
               cache_folder: str | Path | None = None) -> Path:
    """Simulate the 13 Blue Brain models MEArec ships (``"mearec"``) or the built-in models
    (``"builtin"``) and write their bank to ``output`` (float16 currents)."""
    if models == "mearec":
        from si_recsim.biophysics.nmc_models import mearec_model_folders, nmc_cell_models

        folders = mearec_model_folders()
        if not folders:
            raise SetupError("The Blue Brain bank needs MEArec installed (pip install MEArec) for its cell models.")
        chosen = nmc_cell_models(folders, cache_folder)
        name, licence, attribution = "bbp_l5", BBP_LICENCE, BBP_ATTRIBUTION
        description = f"{len(chosen)} Blue Brain layer-5 cell models (NMC portal), {spikes_per_model} spikes each"
    elif models == "builtin":
        chosen = builtin_cell_models()
        name, licence, attribution = "builtin", BUILTIN_LICENCE, BUILTIN_ATTRIBUTION
        description = f"si_recsim's {len(chosen)} built-in cell models, {spikes_per_model} spikes each"
    else:
        raise InputError(f"models must be 'mearec' or 'builtin', got {models!r}.")
    cells = bank_cells(sorted(chosen, key=lambda model: model.name), spikes_per_model, cache_folder=cache_folder,
                       licence=licence)
    return write_cell_bank(output, cells, name=name, description=description, licence=licence,
                           attribution=attribution, currents_dtype="float16")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m si_recsim.biophysics.bank_building",
                                     description="Simulate cell models and write a cell-currents bank.")
    parser.add_argument("output")
    parser.add_argument("--models", choices=("mearec", "builtin"), default="mearec")
    parser.add_argument("--spikes-per-model", type=int, default=6)
    parser.add_argument("--cache-folder")
    arguments = parser.parse_args(argv)
    path = build_bank(arguments.output, arguments.models, arguments.spikes_per_model, arguments.cache_folder)
    print(f"cell bank written to {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
