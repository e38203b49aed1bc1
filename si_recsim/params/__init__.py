"""Parameters of recordings and template libraries (MEArec's YAML layouts): defaults, merging,
dotted overrides, validation and seeds."""

from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import build_params, get_default_recording_params
from si_recsim.params.templates import build_template_params, get_default_template_params

__all__ = [
    "ParameterError",
    "build_params",
    "build_template_params",
    "get_default_recording_params",
    "get_default_template_params",
]
