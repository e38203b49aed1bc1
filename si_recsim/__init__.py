"""si_recsim: ground-truth extracellular recordings as native SpikeInterface objects.

The flat API: ground truth (:func:`generate_ground_truth`, :func:`save_ground_truth`,
:func:`load_ground_truth`, the :class:`SimulatedRecording` and :class:`SimulatedSorting`
extractors), hybrid ground truth in a user's recording (:func:`generate_hybrid_ground_truth`,
:class:`HybridRecording`), noise fitted from a recording and a realism scorecard
(:func:`fit_noise_model`, :func:`compare_recordings`), template libraries
(:func:`generate_template_library` from cell models, :func:`load_template_library`,
:class:`TemplateLibrary`), parameters and probes. Subpackages hold
the rest (``si_recsim.io``, ``si_recsim.sonata``, ...), except :func:`compute_lfp` (the LFP of a
neurodamus compartment report through an electrodes file). Importing si_recsim loads none of NEURON,
LFPy, libsonata, MorphIO, mpi4py or matplotlib.
"""

from si_recsim.biophysics.template_generation import generate_template_library
from si_recsim.io.offline_lfp import OfflineLfpRecording, compute_lfp
from si_recsim.library.loading import load_template_library
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import build_params, get_default_recording_params
from si_recsim.params.templates import build_template_params, get_default_template_params
from si_recsim.probes import available_probe_names, probe_from_name
from si_recsim.recording.drift import ground_truth_motion, ground_truth_positions
from si_recsim.recording.extractors import SimulatedRecording, SimulatedSorting, simulated_recording, simulated_sorting
from si_recsim.recording.fitted_noise import NoiseModel, fit_noise_model, load_noise_model
from si_recsim.recording.ground_truth import generate_ground_truth, load_ground_truth, save_ground_truth
from si_recsim.recording.hybrid import HybridRecording, generate_hybrid_ground_truth
from si_recsim.recording.overlap import overlap_labels
from si_recsim.recording.realism import compare_recordings
from si_recsim.recording.spike_traces import UnitSpikeTracesRecording, unit_spike_traces
from si_recsim.version import __version__

__all__ = [
    "__version__",
    "HybridRecording",
    "NoiseModel",
    "OfflineLfpRecording",
    "ParameterError",
    "SimulatedRecording",
    "SimulatedSorting",
    "TemplateLibrary",
    "UnitSpikeTracesRecording",
    "available_probe_names",
    "build_params",
    "build_template_params",
    "compare_recordings",
    "compute_lfp",
    "generate_ground_truth",
    "generate_hybrid_ground_truth",
    "fit_noise_model",
    "generate_template_library",
    "get_default_recording_params",
    "get_default_template_params",
    "probe_from_name",
    "ground_truth_motion",
    "ground_truth_positions",
    "load_ground_truth",
    "load_noise_model",
    "load_template_library",
    "overlap_labels",
    "save_ground_truth",
    "simulated_recording",
    "simulated_sorting",
    "unit_spike_traces",
]
