import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def test_library_figure_from_the_cli(tmp_path):
    output = tmp_path / "library.png"
    completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", "plot-templates", "default", "-o", str(output)],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert output.stat().st_size > 20_000


def test_library_plot_draws_somata_and_waveforms():
    from si_recsim.library.loading import load_template_library
    from si_recsim.plotting import plot_library

    library = load_template_library("default")
    ax = plot_library(library, template_indices=[0, 1])
    scatter_points = sum(len(collection.get_offsets()) for collection in ax.collections
                         if hasattr(collection, "get_offsets"))
    assert scatter_points >= library.num_templates
    assert len(ax.lines) >= 2 * library.num_channels


def test_drift_plot_refuses_static_libraries_and_draws_drifting_ones(tmp_path):
    from si_recsim.library.loading import load_template_library
    from si_recsim.library.template_library import TemplateLibrary
    from si_recsim.plotting import plot_drift_trajectory

    static = load_template_library("default")
    with pytest.raises(ValueError, match="does not drift"):
        plot_drift_trajectory(static, 0)
    steps = np.stack([static.templates[:3]] * 5, axis=1)
    trajectory = static.locations[:3, None, :] + np.arange(5)[None, :, None] * np.array([0.0, 10.0, 0.0])
    drifting = TemplateLibrary(templates=steps, locations=trajectory, cell_models=static.cell_models[:3],
                               sampling_frequency=static.sampling_frequency, nbefore=static.nbefore, probe=static.probe)
    ax, ax_waveforms = plot_drift_trajectory(drifting, 1)
    assert len(ax_waveforms.lines) == 3 and "40 µm" in ax.get_title()


def test_recording_figure_from_a_ground_truth_folder(tmp_path):
    from si_recsim import generate_ground_truth, save_ground_truth
    from si_recsim.atomic import written_by_si_recsim
    from si_recsim.plotting import plot_ground_truth

    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 1})
    folder = save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)
    output = tmp_path / "recording.png"
    completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", "plot-recordings", str(folder), "-o",
                                str(output), "--time-range", "0.1", "0.3"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert output.stat().st_size > 50_000 and written_by_si_recsim(output)
    figure = plot_ground_truth(recording, sorting, (0.0, 0.1), recording.get_unit_template_library())
    ax_traces, ax_probe, ax_templates = figure.axes[:3]
    assert ax_traces.get_xlim()[1] <= 0.11
    located = sum(len(collection.get_offsets()) for collection in ax_probe.collections
                  if hasattr(collection, "get_offsets"))
    assert located >= sorting.get_num_units()
    assert len(ax_templates.lines) >= sorting.get_num_units() * recording.get_num_channels()
