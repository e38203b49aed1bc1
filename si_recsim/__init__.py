"""si_recsim: ground-truth extracellular recordings as native SpikeInterface objects."""

from importlib.metadata import PackageNotFoundError, version

from si_recsim.generators import (GroundTruthRecording, GroundTruthSorting, TemplateLibrary, generate_ground_truth,
                                  load_ground_truth, load_template_library, save_ground_truth)
from si_recsim.params import ParameterError, build_params, get_default_recording_params
from si_recsim.probes import available_probe_names, get_probe

try:
    __version__ = version("si_recsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "GroundTruthRecording",
    "GroundTruthSorting",
    "ParameterError",
    "TemplateLibrary",
    "available_probe_names",
    "build_params",
    "generate_ground_truth",
    "get_default_recording_params",
    "get_probe",
    "load_ground_truth",
    "load_template_library",
    "save_ground_truth",
]
