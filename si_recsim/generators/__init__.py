"""Ground-truth generation: spike trains, template libraries, lazy recordings and sortings."""

from si_recsim.generators.drift import ground_truth_motion, ground_truth_positions
from si_recsim.generators.ground_truth import generate_ground_truth, load_ground_truth, save_ground_truth
from si_recsim.generators.library import TemplateLibrary, load_template_library, make_analytic_library
from si_recsim.generators.recording import GroundTruthRecording, GroundTruthSorting
from si_recsim.generators.selection import SelectionError

__all__ = [
    "GroundTruthRecording",
    "GroundTruthSorting",
    "SelectionError",
    "TemplateLibrary",
    "generate_ground_truth",
    "ground_truth_motion",
    "ground_truth_positions",
    "load_ground_truth",
    "load_template_library",
    "make_analytic_library",
    "save_ground_truth",
]
