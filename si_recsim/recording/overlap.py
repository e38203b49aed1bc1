"""MEArec's per-spike overlap labels: is another unit firing at the same time, and is it a spatial neighbour?"""

from __future__ import annotations

import numpy as np

#: sorting annotation: (n_pairs, 2) unit indices whose templates overlap spatially
OVERLAPPING_PAIRS_ANNOTATION = "overlapping_pairs"
#: sorting annotation of sortings read from files that store labels: unit id -> labels
OVERLAP_LABELS_ANNOTATION = "overlap_labels"


def overlap_labels(sorting, jitter_ms: float = 1.0) -> dict:
    """Label every spike ``"NO"``, ``"TO"`` or ``"STO"`` (MEArec's ``annotate_overlapping_spikes``).

    ``"TO"``: another unit fires within ``jitter_ms`` (strictly); ``"STO"``: one of them is a spatially
    overlapping partner (the sorting's ``overlapping_pairs`` annotation); ``"NO"``: neither. MEArec
    lets a later non-partner overwrite an ``"STO"`` with ``"TO"``; here ``"STO"`` wins whatever the
    unit order. Sortings read from a MEArec file that stores labels return the file's.

    Returns
    -------
    labels : dict
        Unit id → array of str, one per spike.
    """
    stored = sorting.get_annotation(OVERLAP_LABELS_ANNOTATION)
    if stored is not None:
        return {unit_id: np.asarray(stored[unit_id]).astype(str) for unit_id in sorting.unit_ids}
    pairs = np.asarray(sorting.get_annotation(OVERLAPPING_PAIRS_ANNOTATION) or [], dtype=int).reshape(-1, 2)
    partners = {index: set() for index in range(sorting.get_num_units())}
    for first, second in pairs:
        partners[first].add(second)
        partners[second].add(first)
    jitter = jitter_ms / 1000.0 * sorting.sampling_frequency  # frames
    trains = [np.asarray(sorting.get_unit_spike_train(unit_id), dtype=float) for unit_id in sorting.unit_ids]
    labels = {}
    for index, unit_id in enumerate(sorting.unit_ids):
        unit_labels = np.full(trains[index].size, "NO", dtype="<U3")
        for other, other_train in enumerate(trains):
            if other == index or other_train.size == 0:
                continue
            near = _has_neighbour(trains[index], other_train, jitter)
            label = "STO" if other in partners[index] else "TO"
            unit_labels[near & (unit_labels != "STO")] = label
        labels[unit_id] = unit_labels
    return labels


def _has_neighbour(times: np.ndarray, others: np.ndarray, jitter: float) -> np.ndarray:
    """True for each of ``times`` with one of the sorted ``others`` strictly within ``jitter``."""
    position = np.searchsorted(others, times)
    before = np.abs(times - others[np.clip(position - 1, 0, others.size - 1)])
    after = np.abs(others[np.clip(position, 0, others.size - 1)] - times)
    return np.minimum(before, after) < jitter
