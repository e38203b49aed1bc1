"""Each unit's noise-free trace on its main channel (MEArec's ``spike_traces``), as a lazy recording."""

from __future__ import annotations

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment
from spikeinterface.core.core_tools import define_function_from_class

from si_recsim.errors import InputError
from si_recsim.jobs import exit_with_parent
from si_recsim.recording.extractors import SimulatedRecording


class UnitSpikeTracesRecording(BaseRecording):
    """One channel per unit: the unit's spikes alone on its main channel (``main_channel_id``), µV.

    The spikes are the recording's own (same jitter copies, drift steps, amplitude and shape
    modulation), without noise and unfiltered, as MEArec's ``spike_traces``. Channel ids are the
    sorting's unit ids; the property ``main_channel_id`` says where each trace is taken.

    Parameters
    ----------
    recording : SimulatedRecording
    """

    def __init__(self, recording: SimulatedRecording):
        if not isinstance(recording, SimulatedRecording):
            raise InputError("Spike traces come from si_recsim's simulated recordings (generate_ground_truth).")
        sorting = recording._kwargs["sorting"]
        main_channels = np.asarray(sorting.get_property("main_channel_id")).astype(str)
        channel_indices = recording.ids_to_indices(main_channels)
        engine = recording._engine
        rows = []
        for unit, channel in enumerate(channel_indices):
            active = engine.injector.channels[unit]
            rows.append(int(np.searchsorted(active, channel)))
            if rows[-1] >= len(active) or active[rows[-1]] != channel:
                raise InputError(f"Unit {sorting.unit_ids[unit]}'s main channel is outside its active channels: "
                                 "lower templates.sparsity_threshold.")
        BaseRecording.__init__(self, recording.sampling_frequency, sorting.unit_ids, np.float32)
        self.set_property("main_channel_id", main_channels)
        self.add_recording_segment(_SpikeTracesSegment(engine, np.asarray(rows), recording.get_times()[0]))
        self.name = "si_recsim unit spike traces"
        self.extra_requirements.append("si_recsim")
        self._kwargs = dict(recording=recording)


class _SpikeTracesSegment(BaseRecordingSegment):
    def __init__(self, engine, rows: np.ndarray, t_start: float):
        BaseRecordingSegment.__init__(self, sampling_frequency=engine.sampling_frequency, t_start=t_start)
        self.engine = engine
        self.rows = rows

    def get_num_samples(self) -> int:
        return self.engine.num_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        exit_with_parent()
        start, stop = int(start_frame or 0), int(end_frame if end_frame is not None else self.engine.num_samples)
        traces = np.zeros((max(stop - start, 0), len(self.rows)), dtype=np.float32)
        self.engine.injector.add_unit_rows_to(traces, start, self.rows)
        return traces if channel_indices is None else traces[:, channel_indices]


unit_spike_traces = define_function_from_class(UnitSpikeTracesRecording, "unit_spike_traces")
