"""Ground-truth spike trains as neo ``SpikeTrain`` lists (MEArec's Python API), both directions.

Annotations follow MEArec's names: ``cell_type`` (``"E"``/``"I"``), ``mtype`` (cell model),
``fr`` (firing rate, Hz), ``soma_position`` (µm, MEArec's frame, as MEArec stores it), ``bursting``.
"""

from __future__ import annotations

import numpy as np

from si_recsim.io.mearec_export import spike_times_for_readers
from si_recsim.probes import mearec_to_si_positions, si_to_mearec_positions

_PROPERTY_TO_ANNOTATION = {"cell_type": "cell_type", "cell_model": "mtype", "firing_rate": "fr",
                           "bursting": "bursting"}


def sorting_to_neo_spiketrains(sorting, t_start: float = 0.0) -> list:
    """One annotated ``neo.SpikeTrain`` (times in s) per unit of a single-segment sorting."""
    import neo
    import quantities as pq

    fs = sorting.sampling_frequency
    n_frames = sorting.get_num_samples() if sorting.has_recording() else None
    properties = {key: sorting.get_property(key) for key in sorting.get_property_keys()}
    spiketrains = []
    for index, unit_id in enumerate(sorting.unit_ids):
        frames = sorting.get_unit_spike_train(unit_id)
        t_stop = t_start + (n_frames if n_frames is not None else (frames.max(initial=0) + 1)) / fs
        times = t_start + spike_times_for_readers(sorting, unit_id, fs)  # MEArec bins from t_start
        annotations = {annotation: _plain(properties[key][index]) for key, annotation in
                       _PROPERTY_TO_ANNOTATION.items() if key in properties}
        if "gt_unit_locations" in properties:
            annotations["soma_position"] = si_to_mearec_positions(properties["gt_unit_locations"][index])
        spiketrains.append(neo.SpikeTrain(times, t_stop=t_stop, units=pq.s,
                                          sampling_rate=fs * pq.Hz, t_start=t_start * pq.s,
                                          name=str(unit_id), **annotations))
    return spiketrains


def sorting_from_neo_spiketrains(spiketrains: list, sampling_frequency: float):
    """A ``NumpySorting`` from annotated ``neo.SpikeTrain`` objects, annotations as properties.

    Spike frames are ``floor((t - t_start) * fs)`` like SpikeInterface's MEArec reader.
    """
    from spikeinterface.core import NumpySorting

    unit_ids = np.array([str(train.name) if train.name is not None else str(index)
                         for index, train in enumerate(spiketrains)])
    samples, labels = [], []
    for unit_id, train in zip(unit_ids, spiketrains):
        seconds = (train.times - train.t_start).rescale("s").magnitude
        frames = np.floor(seconds * sampling_frequency).astype(np.int64)
        samples.append(frames)
        labels.append(np.full(len(frames), unit_id))
    sorting = NumpySorting.from_samples_and_labels([np.concatenate(samples)], [np.concatenate(labels)],
                                                   sampling_frequency, unit_ids=unit_ids)
    for key, annotation in _PROPERTY_TO_ANNOTATION.items():
        values = [train.annotations.get(annotation) for train in spiketrains]
        if all(value is not None for value in values):
            sorting.set_property(key, np.asarray(values))
    positions = [train.annotations.get("soma_position") for train in spiketrains]
    if all(position is not None for position in positions):
        positions = np.asarray(positions, dtype=float)
        if positions.ndim == 3:  # drifting: the middle of the trajectory
            positions = positions[:, positions.shape[1] // 2]
        sorting.set_property("gt_unit_locations", mearec_to_si_positions(positions))
    return sorting


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
