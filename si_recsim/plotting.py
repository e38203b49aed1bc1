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
