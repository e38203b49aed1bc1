"""The packaged default template library: its name and where its file lives.

The file is made by :mod:`si_recsim.biophysics.default_library` (see there to regenerate it).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_LIBRARY = "default"
RESOURCE = "data/default_templates.h5"


def default_library_path() -> Path:
    """Path of the packaged default library file."""
    return Path(str(resources.files("si_recsim").joinpath(RESOURCE)))
