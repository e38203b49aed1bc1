"""si_recsim: ground-truth extracellular recordings as native SpikeInterface objects."""

from si_recsim.library.loading import load_template_library
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import build_params, get_default_recording_params
from si_recsim.probes import available_probe_names, get_probe
from si_recsim.recording.extractors import GroundTruthRecording, GroundTruthSorting
from si_recsim.recording.ground_truth import generate_ground_truth, load_ground_truth, save_ground_truth
from si_recsim.version import __version__

__all__ = [
    "__version__",
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
