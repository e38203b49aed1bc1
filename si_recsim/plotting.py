"""Figures of template libraries (needs matplotlib, the ``plot`` extra).

The probe itself is drawn by probeinterface's ``plot_probe``; these functions add what neither
SpikeInterface nor probeinterface draw for a library: waveforms at their contacts with the cell
positions, and drift trajectories.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from si_recsim.atomic import PNG_SOFTWARE, atomic_output
from si_recsim.errors import InputError
from si_recsim.library.template_library import TemplateLibrary

_CATEGORY_COLORS = {"E": "tab:red", "I": "tab:blue", "U": "tab:gray"}


def save_figure(figure, file_path: str | Path, overwrite: bool = False, dpi: int = 130) -> Path:
    """Save a matplotlib ``figure`` as PNG through :func:`si_recsim.atomic.atomic_output`.

    The image records si_recsim as its ``Software``, so ``overwrite`` replaces an image written here
    and nothing else.
    """
    with atomic_output(file_path, overwrite=overwrite) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": PNG_SOFTWARE})
    return Path(file_path)


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 8))
    return ax


def _waveforms_at_contacts(ax, probe, template: np.ndarray, color, width_um: float, height_um_per_uV: float):
    positions = np.asarray(probe.contact_positions)
    time = np.linspace(-width_um / 2, width_um / 2, template.shape[0])
    for channel, (x, y) in enumerate(positions):
        ax.plot(x + time, y + template[:, channel] * height_um_per_uV, color=color, lw=0.8)


def plot_library(library: TemplateLibrary, template_indices=None, excitatory=("PC", "SS", "SP"),
                 inhibitory=("AC", "BP", "BC", "BTC", "ChC", "DBC", "MC", "NGC"), ax=None):
    """Templates drawn at their contacts on the probe, with the soma positions of their cells.

    Parameters
    ----------
    library : TemplateLibrary
    template_indices : list of int | None, default: None
        Templates whose waveforms are drawn (default: the three largest). Every soma is shown.
    excitatory, inhibitory : tuple of str
        Cell-type substrings colouring excitatory cells red and inhibitory cells blue.
    ax : matplotlib Axes | None

    Returns
    -------
    ax : matplotlib Axes
    """
    from probeinterface.plotting import plot_probe

    from si_recsim.library.cell_classes import cell_category

    ax = _axes(ax)
    static = library.static()
    plot_probe(library.probe, ax=ax, contact_kwargs={"alpha": 0.3}, probe_shape_kwargs={"alpha": 0.1})
    categories = [cell_category(name, list(excitatory), list(inhibitory)) for name in static.cell_models]
    colors = [_CATEGORY_COLORS[category] for category in categories]
    ax.scatter(static.locations[:, 0], static.locations[:, 1], c=colors, s=12, zorder=5, alpha=0.6)
    if template_indices is None:
        template_indices = np.argsort(static.amplitudes())[-3:]
    pitch = np.median(np.diff(np.unique(np.asarray(library.probe.contact_positions)[:, 1]))) if \
        library.num_channels > 1 else 20.0
    scale = 0.8 * pitch / max(static.amplitudes()[list(template_indices)].max(), 1e-9)
    for index in template_indices:
        _waveforms_at_contacts(ax, library.probe, static.templates[index], colors[index], 1.6 * pitch, 2 * scale)
        ax.scatter(*static.locations[index, :2], c=colors[index], s=80, marker="*", zorder=6, edgecolor="k")
    ax.set_title(f"{library.num_templates} templates ({', '.join(sorted(set(static.cell_models)))})", fontsize=9)
    return ax


def plot_drift_trajectory(library: TemplateLibrary, template_index: int, ax=None):
    """One drifting template: its trajectory over the probe and its waveform on the main channel
    at the first, middle and last step.

    Returns
    -------
    axes : tuple of matplotlib Axes
    """
    import matplotlib.pyplot as plt
    from probeinterface.plotting import plot_probe

    if library.drift_steps is None:
        raise InputError("This library does not drift: make one with gen-templates and drifting: true.")
    if ax is None:
        _, (ax, ax_waveforms) = plt.subplots(1, 2, figsize=(9, 6))
    else:
        ax_waveforms = ax.inset_axes([1.05, 0.1, 0.6, 0.8])
    plot_probe(library.probe, ax=ax, contact_kwargs={"alpha": 0.3}, probe_shape_kwargs={"alpha": 0.1})
    trajectory = library.locations[template_index]
    colors = plt.cm.viridis(np.linspace(0, 1, len(trajectory)))
    ax.scatter(trajectory[:, 0], trajectory[:, 1], c=colors, s=15, zorder=5)
    ax.annotate("", xy=trajectory[-1, :2], xytext=trajectory[0, :2], arrowprops=dict(arrowstyle="->"))
    templates = library.templates[template_index]
    channel = np.unravel_index(np.argmin(templates[len(templates) // 2]), templates.shape[1:])[1]
    time_ms = (np.arange(templates.shape[1]) - library.nbefore) / library.sampling_frequency * 1000
    for step in (0, len(templates) // 2, len(templates) - 1):
        ax_waveforms.plot(time_ms, templates[step, :, channel], color=colors[step], label=f"step {step}")
    ax_waveforms.set_xlabel("time (ms)")
    ax_waveforms.set_ylabel(f"channel {channel} (µV)")
    ax_waveforms.legend(fontsize=8)
    ax.set_title(f"{library.cell_models[template_index]}: {np.linalg.norm(trajectory[-1] - trajectory[0]):.0f} µm drift",
                 fontsize=9)
    return ax, ax_waveforms


def plot_ground_truth(recording, sorting, time_range: tuple[float, float] = (0.0, 0.2),
                      unit_templates: TemplateLibrary | None = None):
    """MEArec's plot of a recording with SpikeInterface's widgets: the traces with the ground-truth
    spikes, the probe with the units' positions, and the units' templates at their contacts.

    Parameters
    ----------
    recording, sorting
        A ground truth (:func:`si_recsim.generate_ground_truth` or :func:`si_recsim.load_ground_truth`).
    time_range : (float, float), default: (0, 0.2)
        Seconds of traces to draw.
    unit_templates : TemplateLibrary | None, default: None
        The units' templates (a saved folder's ``unit_templates.h5``); None: templates estimated from
        the traces by SpikeInterface.

    Returns
    -------
    figure : matplotlib Figure
    """
    import matplotlib.pyplot as plt
    import spikeinterface.widgets as sw
    from spikeinterface.core import create_sorting_analyzer

    figure, (ax_traces, ax_probe, ax_templates) = plt.subplots(1, 3, figsize=(16, 8),
                                                               gridspec_kw={"width_ratios": [2.2, 1, 1]})
    analyzer = create_sorting_analyzer(sorting, recording, format="memory", sparse=True)
    analyzer.compute(["random_spikes", "templates", "unit_locations"])
    sw.plot_spikes_on_traces(analyzer, time_range=time_range, backend="matplotlib", ax=ax_traces)
    ax_traces.set_title(f"traces {time_range[0]:g}-{time_range[1]:g} s with ground-truth spikes", fontsize=9)
    sw.plot_probe_map(recording, backend="matplotlib", ax=ax_probe)
    locations = np.asarray(sorting.get_property("gt_unit_locations"))
    kinds = sorting.get_property("cell_type")
    colors = [_CATEGORY_COLORS.get(str(kind), "tab:gray") for kind in (kinds if kinds is not None else
                                                                        ["U"] * len(locations))]
    ax_probe.scatter(locations[:, 0], locations[:, 1], c=colors, s=40, zorder=10)
    for unit_id, (x, y, z) in zip(sorting.unit_ids, locations):
        ax_probe.annotate(f"{unit_id} ({z:.0f} µm)", (x, y), fontsize=7, zorder=11)
    ax_probe.set_title("units (red E, blue I), distance from the probe", fontsize=9)
    if unit_templates is not None:
        plot_library(unit_templates, template_indices=range(unit_templates.num_templates), ax=ax_templates)
        ax_templates.set_title("ground-truth templates", fontsize=9)
    else:
        sw.plot_unit_templates(analyzer, backend="matplotlib", ax=ax_templates, same_axis=True)
    return figure



def plot_weights_summary(summary: dict, population: str | None = None):
    """Coefficient distributions of an electrodes file (:func:`si_recsim.sonata.weights_inspection.summarise_electrodes_file`):
    the histogram of log10 |coefficient| per neurite type, and the mean |coefficient| per electrode.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from si_recsim.sonata.weights_inspection import HISTOGRAM_EDGES

    if population is None:
        population = next(iter(summary))
    if population not in summary:
        raise InputError(f"Population {population!r} is not in the file; it has {list(summary)}.")
    data = summary[population]
    figure, (histogram, per_electrode) = plt.subplots(1, 2, figsize=(11, 4))
    centres = (HISTOGRAM_EDGES[1:] + HISTOGRAM_EDGES[:-1]) / 2
    for name, group in data["groups"].items():
        counts = group["histogram"]
        histogram.step(centres, counts / max(1, counts.sum()), where="mid", label=f"{name} ({group['rows']} rows)")
    occupied = np.flatnonzero(sum(group["histogram"] for group in data["groups"].values()))
    if occupied.size:
        histogram.set_xlim(centres[occupied[0]] - 1.0, centres[occupied[-1]] + 1.0)
    histogram.set(xlabel="log10 |coefficient|", ylabel="fraction of coefficients",
                  title=f"{population}: coefficients per neurite type")
    histogram.legend(fontsize=8)
    per_electrode.plot(data["mean_abs"], marker=".", linestyle="none")
    per_electrode.set(xlabel="electrode (column)", ylabel="mean |coefficient|", yscale="log",
                      title=f"{data['nodes']} cells, {data['rows']} segments")
    figure.tight_layout()
    return figure


def plot_scorecard(result: dict):
    """The features of :func:`si_recsim.recording.realism.compare_recordings` side by side: noise spectra,
    noise correlation against distance, peak amplitudes and spike widths.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    for name, color in (("simulated", "tab:blue"), ("reference", "0.3")):
        features = result[name]
        axes[0, 0].loglog(features["frequencies"][1:], features["spectrum"][1:], color=color, label=name)
        curve = features["correlation_by_distance"]
        keys = sorted(curve)
        axes[0, 1].plot([20.0 * (key + 0.5) for key in keys], [curve[key] for key in keys], "o-", color=color,
                        label=name)
        if len(features["amplitudes"]):
            axes[1, 0].hist(features["amplitudes"], bins=40, histtype="step", density=True, color=color, label=name)
        if len(features["widths_ms"]):
            axes[1, 1].hist(features["widths_ms"], bins=30, histtype="step", density=True, color=color, label=name)
    distances = result["distances"]
    axes[0, 0].set(xlabel="Hz", ylabel="µV²/Hz", title=f"noise spectrum (log10 RMS {distances['spectrum_log10_rms']:.2f})")
    axes[0, 1].set(xlabel="distance (µm)", ylabel="noise correlation",
                   title=f"correlation vs distance ({distances['correlation_by_distance_mean_abs']:.2f})")
    axes[1, 0].set(xlabel="|peak amplitude| (µV)", title=f"detected peaks (KS {distances['amplitude_ks']:.2f})")
    axes[1, 1].set(xlabel="trough to peak (ms)", title=f"spike widths (KS {distances['width_ks']:.2f})")
    for axis in axes.ravel():
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
