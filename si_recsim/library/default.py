"""Where si_recsim's data lives: the packaged default library and cell-currents banks, by name, and
the cache folder of what it computes (intracellular simulations, compiled mechanisms, libraries).

The file is made by :mod:`si_recsim.biophysics.default_library` (see there to regenerate it).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DEFAULT_LIBRARY = "default"
RESOURCE = "data/default_templates.h5"


def default_cache_folder() -> Path:
    """``$SI_RECSIM_CACHE`` or ``~/.cache/si_recsim``."""
    return Path(os.environ.get("SI_RECSIM_CACHE", Path.home() / ".cache" / "si_recsim"))


def default_library_path() -> Path:
    """Path of the packaged default library file."""
    return Path(str(resources.files("si_recsim").joinpath(RESOURCE)))

#: packaged cell-currents banks (see :mod:`si_recsim.biophysics.bank_building` to regenerate them)
BANKS = {
    "default": "data/cell_bank_bbp_l5.h5",
    "builtin": "data/cell_bank_builtin.h5",
}


def bank_path(bank: str | Path) -> Path:
    """The file of a packaged bank's name (:data:`BANKS`), or ``bank`` itself as a path."""
    if str(bank) in BANKS:
        return Path(str(resources.files("si_recsim").joinpath(BANKS[str(bank)])))
    path = Path(bank)
    if not path.is_file():
        raise FileNotFoundError(f"Cell bank {bank} is neither a packaged bank ({', '.join(BANKS)}) nor a file.")
    return path
