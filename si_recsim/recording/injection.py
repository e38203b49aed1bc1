"""Adding spike waveforms into a buffer of samples."""

from __future__ import annotations

import numpy as np

from si_recsim.recording.template_processing import TemplateStretcher


def channel_runs(channels: np.ndarray) -> list[tuple[slice, slice]]:
    """Split sorted channel indices into runs of consecutive channels.

    Returns (recording channels, template rows) slice pairs, so that each run is added with plain
    slicing instead of fancy indexing.
    """
    breaks = np.flatnonzero(np.diff(channels) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(channels)]])
    return [(slice(int(channels[a]), int(channels[b - 1]) + 1), slice(int(a), int(b))) for a, b in zip(starts, stops)]


class SpikeInjector:
    """Spikes of a set of units and the templates they carry.

    Parameters
    ----------
    templates : list of np.ndarray
        Per unit, (n_drift_steps, n_jitters, n_active_channels, n_samples) float32 in µV, on that
        unit's channels (n_drift_steps = 1 without drift).
    channels : list of np.ndarray
        Per unit, the recording channel index of each template column (sorted).
    nbefore : int
        Sample of the spike time inside a template.
    frames : list of np.ndarray
        Sorted spike sample indices per unit (int64).
    jitter_indices : list of np.ndarray
        Jitter copy used by each spike, per unit.
    drift_indices : list of np.ndarray
        Drift step used by each spike, per unit.
    modulation : Modulation | None
        Amplitude factors (None: every factor is 1).
    shape_stretch : float | None
        When set, spikes of bursting units whose mean factor is below 1 are time-stretched
        (bursting shape modulation) with this strength.
    """

    def __init__(self, templates: list, channels: list, nbefore: int, frames: list, jitter_indices: list,
                 drift_indices: list, modulation=None, shape_stretch: float | None = None):
        self.templates = templates
        self.channels = channels
        self.runs = [channel_runs(unit_channels) for unit_channels in channels]
        self.drift_indices = drift_indices
        self.n_samples = templates[0].shape[-1]
        self.nbefore = int(nbefore)
        self.frames = frames
        self.jitter_indices = jitter_indices
        self.modulation = modulation
        self.shape_stretch = shape_stretch
        self._stretchers: dict = {}

    def _stretcher(self, unit: int) -> TemplateStretcher:
        """Spline coefficients of a unit's template copies, built on first use (bursting shape modulation)."""
        if unit not in self._stretchers:
            self._stretchers[unit] = TemplateStretcher(self.templates[unit], self.nbefore, self.shape_stretch)
        return self._stretchers[unit]

    def add_to(self, buffer: np.ndarray, start: int) -> None:
        """Add every spike overlapping samples ``[start, start + n)`` into ``buffer`` (n_channels, n).

        Units are visited in order and each unit's spikes in time order, so every sample is the
        same sum in the same order whatever the buffer's extent.
        """
        length = buffer.shape[1]
        for unit, waveforms, onsets in self._spikes_meeting(start, length):
            runs = self.runs[unit]
            for waveform, onset in zip(waveforms, onsets):
                low, high = max(onset, 0), min(onset + self.n_samples, length)
                piece = waveform[:, low - onset: high - onset]
                for buffer_rows, template_rows in runs:
                    buffer[buffer_rows, low:high] += piece[template_rows]

    def add_unit_rows_to(self, buffer: np.ndarray, start: int, template_rows: np.ndarray) -> None:
        """Add each unit's spikes, on one of its channels, into its own row of ``buffer`` (n_units, n).

        ``template_rows[unit]`` is the row of that channel among the unit's active channels. The
        spikes are the recording's own (jitter, drift step, amplitude and shape modulation).
        """
        length = buffer.shape[1]
        for unit, waveforms, onsets in self._spikes_meeting(start, length):
            for waveform, onset in zip(waveforms[:, int(template_rows[unit])], onsets):
                low, high = max(onset, 0), min(onset + self.n_samples, length)
                buffer[unit, low:high] += waveform[low - onset: high - onset]

    def _spikes_meeting(self, start: int, length: int):
        """Per unit with spikes whose template ``[frame - nbefore, frame - nbefore + n_samples)`` meets
        ``[start, start + length)``: (unit, modulated waveforms, onsets relative to ``start``)."""
        stop = start + length
        for unit, unit_frames in enumerate(self.frames):
            first = np.searchsorted(unit_frames, start + self.nbefore - self.n_samples + 1)
            last = np.searchsorted(unit_frames, stop + self.nbefore)
            if first < last:
                yield unit, self._waveforms(unit, first, last), (unit_frames[first:last] - self.nbefore - start).tolist()

    def _waveforms(self, unit: int, first: int, last: int) -> np.ndarray:
        """Modulated waveforms of spikes ``[first, last)`` of ``unit``: (n_spikes, n_active_channels, n_samples)."""
        steps = self.drift_indices[unit][first:last]
        jitters = self.jitter_indices[unit][first:last]
        waveforms = self.templates[unit][steps, jitters]
        factors = self.modulation.factors(unit, first, last) if self.modulation is not None else None
        if factors is None:
            return waveforms
        if self.shape_stretch and self.modulation.burst_amplitudes[unit] is not None:
            mean_factors = factors.mean(axis=1)
            stretched = np.flatnonzero(mean_factors < 1.0)
            if stretched.size:
                waveforms[stretched] = self._stretcher(unit).stretch(steps[stretched], jitters[stretched],
                                                                     mean_factors[stretched])
        waveforms *= factors[:, :, None]
        return waveforms
