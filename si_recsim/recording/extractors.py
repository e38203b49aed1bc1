"""Lazy ground-truth recording and sorting as SpikeInterface extractors.

Both objects are rebuilt from their keyword arguments alone (the full parameter tree with its
concrete seeds, the template library spec and optional user spike trains), so they pickle, dump
to JSON, go to worker processes, and into ``run_sorter`` without being saved first; the sorting's
ground-truth properties are recomputed on every reload, so they are never lost.
"""

from __future__ import annotations

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment, BaseSorting, BaseSortingSegment

from si_recsim.probes import wired_copy
from si_recsim.recording.engine import GroundTruthModel, get_model


class GroundTruthRecording(BaseRecording):
    """Lazy ground-truth recording: every window is computed on demand from the model.

    Parameters
    ----------
    params : dict
        Complete parameter tree with concrete seeds (:func:`si_recsim.params.build_params`).
    template_library : str | dict, default: "default"
        Library spec (see :func:`si_recsim.library.load_template_library`).
    spike_times : list of list of float | None, default: None
        User spike trains in seconds.
    unit_types : list of str | None, default: None
        ``"E"``/``"I"`` per user spike train.
    """

    def __init__(self, params: dict, template_library="default", spike_times: list | None = None,
                 unit_types: list | None = None):
        model = get_model(params, template_library, spike_times, unit_types)
        BaseRecording.__init__(self, model.sampling_frequency, model.channel_ids, model.dtype)
        self.set_probe(wired_copy(model.library.probe))
        self.set_channel_gains(model.gain_to_uV)
        self.set_channel_offsets(0.0)
        self.annotate(is_filtered=bool(params["recordings"]["filter"]))
        segment = GroundTruthRecordingSegment(model)
        self.add_recording_segment(segment)
        self.model = model
        self._kwargs = dict(params=params, template_library=template_library, spike_times=spike_times,
                            unit_types=unit_types)


class GroundTruthRecordingSegment(BaseRecordingSegment):
    def __init__(self, model: GroundTruthModel):
        BaseRecordingSegment.__init__(self, sampling_frequency=model.sampling_frequency, t_start=model.t_start)
        self.model = model
        self.num_channels = model.num_channels

    def get_num_samples(self) -> int:
        return self.model.num_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        traces = self.model.get_traces(int(start_frame), int(end_frame))
        return traces if channel_indices is None else traces[:, channel_indices]


class GroundTruthSorting(BaseSorting):
    """Ground-truth spike trains of a :class:`GroundTruthRecording` with unit properties.

    Properties: ``gt_unit_locations`` (n_units, 3) µm (the middle of the trajectory for drifting
    units), ``main_channel_id``, ``cell_type`` (``"E"``/``"I"``), ``cell_model``, ``template_id``
    (library index), ``firing_rate`` (target, Hz), ``bursting``, ``drifting``, ``amplitude_uV``
    (absolute negative peak of the library template).

    Parameters are those of :class:`GroundTruthRecording`.
    """

    def __init__(self, params: dict, template_library="default", spike_times: list | None = None,
                 unit_types: list | None = None):
        model = get_model(params, template_library, spike_times, unit_types)
        unit_ids = np.arange(model.num_units).astype(str)
        BaseSorting.__init__(self, model.sampling_frequency, unit_ids)
        self.add_sorting_segment(GroundTruthSortingSegment(model.frames, unit_ids, model.t_start))
        units = model.units
        self.set_property("gt_unit_locations", units.locations)
        self.set_property("main_channel_id", model.channel_ids[units.main_channel_indices])
        self.set_property("cell_type", units.cell_types)
        self.set_property("cell_model", units.cell_models)
        self.set_property("template_id", units.template_ids)
        self.set_property("firing_rate", units.firing_rates)
        self.set_property("bursting", units.bursting)
        self.set_property("drifting", units.drifting)
        self.set_property("amplitude_uV", units.amplitudes)
        self.model = model
        self._kwargs = dict(params=params, template_library=template_library, spike_times=spike_times,
                            unit_types=unit_types)


class GroundTruthSortingSegment(BaseSortingSegment):
    def __init__(self, frames: list, unit_ids: np.ndarray, t_start: float):
        BaseSortingSegment.__init__(self, t_start=t_start)
        self.frames = dict(zip(unit_ids, frames))

    def get_unit_spike_train(self, unit_id, start_frame, end_frame):
        frames = self.frames[unit_id]
        low = 0 if start_frame is None else np.searchsorted(frames, start_frame)
        high = frames.size if end_frame is None else np.searchsorted(frames, end_frame)
        return frames[low:high]
