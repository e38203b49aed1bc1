"""The recording engine (numpy and SpikeInterface only): spike trains, template selection and
preparation, modulation, drift, noise, filtering, injection, the lazy ground-truth recording and
sorting, and their folders."""

from si_recsim.recording.drift import ground_truth_motion, ground_truth_positions
from si_recsim.recording.extractors import SimulatedRecording, SimulatedSorting, simulated_recording, simulated_sorting
from si_recsim.recording.ground_truth import generate_ground_truth, load_ground_truth, save_ground_truth
from si_recsim.recording.selection import SelectionError

__all__ = [
    "SelectionError",
    "SimulatedRecording",
    "SimulatedSorting",
    "generate_ground_truth",
    "ground_truth_motion",
    "ground_truth_positions",
    "load_ground_truth",
    "save_ground_truth",
    "simulated_recording",
    "simulated_sorting",
]
