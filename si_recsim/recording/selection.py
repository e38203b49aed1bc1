"""Choosing library templates for the units of a recording (MEArec's selection rules).

A template is a candidate for an excitatory (or inhibitory) unit when its cell model name matches
the ``cell_types`` substrings. Candidates are visited in a seeded random order and accepted
greedily when they satisfy every rule: open slot for their category, ``min_dist`` from the units
already chosen, position inside ``xlim``/``ylim``/``zlim`` (MEArec's frame: x is the distance
from the probe plane, y across and z along the probe; see :mod:`si_recsim.probes`), amplitude strictly inside
(``min_amp``, ``max_amp``), and the running number of spatially overlapping pairs for
``n_overlap_pairs``. When the candidates run out, the error says how many were rejected by each
rule and what to change.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from si_recsim.errors import SetupError
from si_recsim.library.cell_classes import cell_category
from si_recsim.params.recordings import CellTypeParams, TemplateSelectionParams
from si_recsim.probes import si_to_mearec_positions


class SelectionError(SetupError):
    """No set of templates satisfies the selection rules."""


def overlapping(template_a: np.ndarray, template_b: np.ndarray, threshold: float) -> bool:
    """Whether two templates (n_samples, n_channels) overlap spatially.

    On the channel where ``template_a`` has its global negative peak, ``template_b``'s negative peak
    exceeds ``threshold`` times ``template_b``'s global negative peak (or the same with a and b
    swapped).
    """

    def one_way(first: np.ndarray, second: np.ndarray) -> bool:
        channel = np.unravel_index(np.argmin(first), first.shape)[1]
        return abs(second[:, channel].min()) > threshold * abs(second.min())

    return one_way(template_a, template_b) or one_way(template_b, template_a)


def overlapping_pairs(templates: np.ndarray, threshold: float) -> np.ndarray:
    """(n_pairs, 2) indices of overlapping pairs among ``templates`` (n, n_samples, n_channels).

    The same criterion as :func:`overlapping`, for all pairs at once.
    """
    channel_minima = np.abs(templates.min(axis=1))  # (n, n_channels)
    main_channels = np.argmax(channel_minima, axis=1)
    peaks = channel_minima.max(axis=1)
    # one_way[i, j]: template j is large on template i's main channel
    one_way = channel_minima[:, main_channels].T > threshold * peaks[None, :]
    both = one_way | one_way.T
    first, second = np.nonzero(np.triu(both, k=1))
    return np.column_stack([first, second]).astype(int)


def select_library_templates(library, types: np.ndarray, section: TemplateSelectionParams, cell_types: CellTypeParams,
                     rng: np.random.Generator, drift_direction: np.ndarray | None = None,
                     angle_tol: float = 15.0) -> np.ndarray:
    """Library indices for units of the given types, following the ``templates`` rules.

    Parameters
    ----------
    library : TemplateLibrary
    types : np.ndarray
        ``"E"``/``"I"`` per unit (excitatory first).
    section : TemplateSelectionParams
        The ``templates`` parameter section.
    cell_types : CellTypeParams
        ``{"excitatory": [...], "inhibitory": [...]}`` name substrings.
    rng : np.random.Generator
        The template-selection generator.
    drift_direction : np.ndarray | None, default: None
        For drifting recordings (a drifting library): the preferred drift direction (unit vector,
        si_recsim's frame); trajectories further than ``angle_tol`` degrees from it are rejected and
        ``min_dist`` applies step by step along the trajectories.
    angle_tol : float, default: 15.0

    Returns
    -------
    template_ids : np.ndarray
        One library index per unit, in unit order.
    """
    categories = np.array([cell_category(name, cell_types.excitatory, cell_types.inhibitory)
                           for name in library.cell_models])
    wanted = Counter(types.tolist())
    amplitudes = library.amplitudes()
    max_amp = np.inf if section.max_amp is None else section.max_amp
    drifting = drift_direction is not None
    trajectories = library.locations if drifting else library.locations[:, None, :]
    initial = trajectories[:, 0]
    # xlim / ylim / zlim are in MEArec's frame (x: distance from the probe plane), as in MEArec's files
    limits = [section.xlim, section.ylim, section.zlim]
    mearec_locations = si_to_mearec_positions(initial)
    if drifting:
        directions = trajectories[:, -1] - trajectories[:, 0]
        directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
        angles = np.degrees(np.arccos(np.clip(directions @ drift_direction, -1.0, 1.0)))
    static_templates = library.static().templates
    target_pairs = section.n_overlap_pairs
    threshold = section.overlap_threshold

    chosen: dict[str, list[int]] = {"E": [], "I": []}
    rejected: Counter = Counter()
    n_pairs = 0
    for index in rng.permutation(library.num_templates):
        category = categories[index]
        if category not in wanted or len(chosen[category]) >= wanted[category]:
            rejected["category full or unknown"] += 1
            continue
        if not section.min_amp < amplitudes[index] < max_amp:
            rejected["amplitude"] += 1
            continue
        if any(lim is not None and not lim[0] <= mearec_locations[index, axis] <= lim[1]
               for axis, lim in enumerate(limits)):
            rejected["position limits"] += 1
            continue
        if drifting and angles[index] > angle_tol:
            rejected["drift direction"] += 1
            continue
        accepted = chosen["E"] + chosen["I"]
        if accepted and np.min(np.linalg.norm(trajectories[accepted] - trajectories[index], axis=-1)) < section.min_dist:
            rejected["min_dist"] += 1
            continue
        if target_pairs is not None:
            new_pairs = sum(overlapping(static_templates[index], static_templates[other], threshold)
                            for other in accepted)
            slots_left = sum(wanted.values()) - len(accepted) - 1
            if n_pairs + new_pairs > target_pairs or (new_pairs == 0 and n_pairs < target_pairs
                                                      and slots_left < target_pairs - n_pairs):
                rejected["n_overlap_pairs"] += 1
                continue
            n_pairs += new_pairs
        chosen[category].append(int(index))
        if all(len(chosen[key]) == wanted[key] for key in wanted):
            break
    complete = all(len(chosen[key]) == wanted[key] for key in wanted)
    if not complete or (target_pairs is not None and n_pairs != target_pairs):
        raise SelectionError(_explain_failure(library, categories, amplitudes, wanted, chosen, rejected, section,
                                              n_pairs))
    by_type = {key: iter(values) for key, values in chosen.items()}
    return np.array([next(by_type[unit_type]) for unit_type in types], dtype=int)


def _explain_failure(library, categories, amplitudes, wanted, chosen, rejected, section, n_pairs) -> str:
    max_amp = section.max_amp
    lines = [
        f"Could not select templates for {wanted.get('E', 0)} excitatory and {wanted.get('I', 0)} inhibitory units "
        f"from a library of {library.num_templates} ({library.source}).",
        f"Selected before running out: {len(chosen['E'])} E, {len(chosen['I'])} I.",
    ]
    for key in ("E", "I"):
        if wanted.get(key, 0) == 0:
            continue
        in_category = categories == key
        in_range = in_category & (amplitudes > section.min_amp) & (amplitudes < (max_amp or np.inf))
        lines.append(f"  {key}: {in_category.sum()} templates of this category, {in_range.sum()} with amplitude in "
                     f"({section.min_amp}, {max_amp}) uV.")
    lines.append("Rejections by rule: " + ", ".join(f"{rule}: {count}" for rule, count in rejected.most_common()))
    fixes = []
    if rejected["amplitude"]:
        fixes.append("widen templates.min_amp / templates.max_amp")
    if rejected["min_dist"]:
        fixes.append(f"lower templates.min_dist (now {section.min_dist} um)")
    if rejected["position limits"]:
        fixes.append("widen templates.xlim / ylim / zlim")
    if rejected["drift direction"]:
        fixes.append("raise recordings.angle_tol or change recordings.preferred_dir")
    if section.n_overlap_pairs is not None:
        lines.append(f"Overlapping pairs reached: {n_pairs} of {section.n_overlap_pairs} wanted.")
        fixes.append("change templates.n_overlap_pairs or templates.overlap_threshold")
    if not any(np.any(categories == key) for key in wanted):
        fixes.append("check the cell_types substrings against the library's cell names")
    fixes.append("ask for fewer units (spiketrains.n_exc / n_inh) or use a larger library")
    lines.append("To fix: " + "; ".join(fixes) + ".")
    return "\n".join(lines)
