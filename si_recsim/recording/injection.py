"""Adding spike waveforms into a buffer of samples (n_samples, n_channels).

The units' sparse templates are packed in one float32 array, without their leading and trailing
rows of exact zeros (the padding before a spike), which adding would not change. A buffer's spikes,
of every unit, are added in the order of their onsets (ties in unit order), so consecutive spikes
touch the same rows while they are in cache; the order is a fixed property of the spikes, so every
sample is the same sum in the same order whatever the buffer's extent.
"""

from __future__ import annotations

import numba
import numpy as np

from si_recsim.recording.template_processing import TemplateStretcher


@numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False)
def _add_spikes(buffer, packed, extra, from_extra, offsets, onsets, lengths, units, factor_starts, factors, columns,
                unit_strides, unit_counts, unit_column_starts, unit_factor_widths):
    """Add each spike's waveform, times its factors, at rows ``onsets[s]`` to ``onsets[s] + lengths[s]``
    of ``buffer`` (n, n_columns).

    Spike ``s`` of unit ``u = units[s]`` reads ``unit_counts[u]`` values per waveform row from
    ``packed`` (or ``extra``) at ``offsets[s] + row * unit_strides[u]`` and adds them to buffer
    columns ``columns[unit_column_starts[u]:][:unit_counts[u]]``, scaled by
    ``factors[factor_starts[s]:]`` (one factor, or one per value when ``unit_factor_widths[u] > 1``).
    """
    n_rows, n_columns = buffer.shape
    flat = buffer.reshape(-1)
    for spike in range(onsets.size):
        unit = units[spike]
        onset, stride, count = onsets[spike], unit_strides[unit], unit_counts[unit]
        low, high = max(onset, 0), min(onset + lengths[spike], n_rows)
        if low >= high:
            continue
        spike_columns = columns[unit_column_starts[unit]: unit_column_starts[unit] + count]
        per_value = unit_factor_widths[unit] > 1
        spike_factors = factors[factor_starts[spike]: factor_starts[spike] + (count if per_value else 1)]
        first = offsets[spike] + (low - onset) * stride
        source = extra if from_extra[spike] else packed
        waveform = source[first: first + (high - low) * stride]
        for row in range(low, high):  # loops duplicated so that the factor test stays out of them
            target = flat[row * n_columns: (row + 1) * n_columns]
            values = waveform[(row - low) * stride: (row - low) * stride + count]
            if per_value:
                for j in range(count):
                    target[spike_columns[j]] += values[j] * spike_factors[j]
            else:
                scale = spike_factors[0]
                for j in range(count):
                    target[spike_columns[j]] += values[j] * scale


def _nonzero_rows(templates: np.ndarray) -> tuple[int, int]:
    """First and past-the-last sample rows of (n_steps, n_copies, n_samples, n_channels) templates holding
    a non-zero value (0, 0 when all are zero)."""
    rows = np.flatnonzero(np.any(templates != 0, axis=(0, 1, 3)))
    return (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)


class UnitTemplates:
    """The units' templates, full length, read from the packed trimmed ones (a sequence of arrays)."""

    def __init__(self, injector: SpikeInjector):
        self._injector = injector

    def __len__(self) -> int:
        return len(self._injector.trimmed)

    def __getitem__(self, unit: int) -> np.ndarray:
        """(n_drift_steps, n_copies, n_samples, n_active_channels) float32, zero rows restored."""
        trimmed, first = self._injector.trimmed[unit], int(self._injector.first_rows[unit])
        full = np.zeros(trimmed.shape[:2] + (self._injector.n_samples, trimmed.shape[3]), dtype=np.float32)
        full[:, :, first: first + trimmed.shape[2]] = trimmed
        return full

    def __iter__(self):
        return (self[unit] for unit in range(len(self)))


class SpikeInjector:
    """Spikes of a set of units and the templates they carry.

    Parameters
    ----------
    templates : list of np.ndarray
        Per unit, (n_drift_steps, n_copies, n_samples, n_active_channels) float32 in µV, on that
        unit's channels (n_drift_steps = 1 without drift). Packed on construction without their
        leading and trailing zero rows (``self.trimmed`` are views of the packed array, starting at
        row ``self.first_rows``); ``self.templates[unit]`` gives them back full length.
    channels : list of np.ndarray
        Per unit, the recording channel index of each template column (sorted).
    nbefore : int
        Sample of the spike time inside a template.
    frames : list of np.ndarray
        Sorted spike sample indices per unit (int64).
    jitter_indices : list of np.ndarray
        Copy used by each spike, per unit.
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
        self.n_samples = templates[0].shape[2]
        spans = [_nonzero_rows(unit_templates) for unit_templates in templates]
        self.first_rows = np.array([first for first, _ in spans], dtype=np.int64)
        sizes = [unit_templates[:, :, first:stop].size for unit_templates, (first, stop) in zip(templates, spans)]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._packed = np.empty(int(self._offsets[-1]), dtype=np.float32)
        self.trimmed = []
        for unit, (unit_templates, (first, stop)) in enumerate(zip(templates, spans)):
            shape = unit_templates.shape[:2] + (stop - first, unit_templates.shape[3])
            view = self._packed[self._offsets[unit]: self._offsets[unit + 1]].reshape(shape)
            view[...] = unit_templates[:, :, first:stop]
            self.trimmed.append(view)
        self.templates = UnitTemplates(self)
        self.channels = [np.asarray(unit_channels, dtype=np.int64) for unit_channels in channels]
        self._channel_starts = np.concatenate([[0], np.cumsum([len(c) for c in self.channels])]).astype(np.int64)
        self._all_channels = np.concatenate(self.channels + [np.zeros(0, np.int64)])
        self.drift_indices = drift_indices
        self.nbefore = int(nbefore)
        self.frames = frames
        self.jitter_indices = jitter_indices
        self.modulation = modulation
        self.shape_stretch = shape_stretch
        self._stretchers: dict = {}

    def scale_channels(self, scale: np.ndarray) -> None:
        """Multiply every template, in place, by ``scale[channel]`` (one factor per recording channel)."""
        for unit_templates, unit_channels in zip(self.trimmed, self.channels):
            unit_templates *= scale[unit_channels].astype(np.float32)

    def _stretcher(self, unit: int) -> TemplateStretcher:
        """Spline coefficients of a unit's template copies, built on first use (bursting shape modulation)."""
        if unit not in self._stretchers:
            self._stretchers[unit] = TemplateStretcher(self.templates[unit], self.nbefore, self.shape_stretch)
        return self._stretchers[unit]

    def add_to(self, buffer: np.ndarray, start: int) -> None:
        """Add every spike overlapping samples ``[start, start + n)`` into ``buffer`` (n, n_channels)."""
        self._add(buffer, start, None)

    def add_unit_rows_to(self, buffer: np.ndarray, start: int, template_columns: np.ndarray) -> None:
        """Add each unit's spikes, on one of its channels, into its own column of ``buffer`` (n, n_units).

        ``template_columns[unit]`` is that channel's column among the unit's active channels. The
        spikes are the recording's own (jitter, drift step, amplitude and shape modulation).
        """
        self._add(buffer, start, np.asarray(template_columns, dtype=np.int64))

    def _add(self, buffer: np.ndarray, start: int, template_columns: np.ndarray | None) -> None:
        table, extra, per_unit = self._spike_table(start, buffer.shape[0], template_columns)
        if table is None:
            return
        if template_columns is None:
            columns = self._all_channels
        else:  # unit u's values go to column u
            columns = np.arange(len(self.frames), dtype=np.int64)
        _add_spikes(buffer, self._packed, extra, table["from_extra"], table["offsets"], table["onsets"],
                    table["lengths"], table["units"], table["factor_starts"], table["factors"], columns,
                    per_unit["strides"], per_unit["counts"], per_unit["column_starts"], per_unit["factor_widths"])

    def _spike_table(self, start: int, length: int, template_columns: np.ndarray | None):
        """The spikes meeting ``[start, start + length)``, of every unit, sorted by onset (ties in unit
        order), as the arrays :func:`_add_spikes` reads (per spike and per unit); and the stretched
        waveforms they use."""
        parts, factor_parts, extra_parts = [], [], []
        n_factors = n_extra = 0
        per_unit = {key: np.zeros(len(self.frames), dtype=np.int64)
                    for key in ("strides", "counts", "column_starts", "factor_widths")}
        for unit, first, last in self._spikes_meeting(start, length):
            n_spikes = last - first
            n_copies, n_rows, n_active = self.trimmed[unit].shape[1:]
            steps = self.drift_indices[unit][first:last].astype(np.int64)
            copies = self.jitter_indices[unit][first:last].astype(np.int64)
            factors = self.modulation.factors(unit, first, last) if self.modulation is not None else None
            if factors is None:
                factors = np.ones((n_spikes, 1), dtype=np.float32)
            offsets = self._offsets[unit] + (steps * n_copies + copies) * (n_rows * n_active)
            from_extra = np.zeros(n_spikes, dtype=np.bool_)
            onsets = self.frames[unit][first:last] - (self.nbefore + start)
            row_shifts = np.full(n_spikes, self.first_rows[unit], dtype=np.int64)
            lengths = np.full(n_spikes, n_rows, dtype=np.int64)
            if self.shape_stretch and self.modulation.burst_amplitudes[unit] is not None:
                mean_factors = factors.mean(axis=1)
                stretched = np.flatnonzero(mean_factors < 1.0)
                if stretched.size:  # these spikes get their own waveforms
                    waveforms = self._stretcher(unit).stretch(steps[stretched], copies[stretched],
                                                              mean_factors[stretched])
                    offsets[stretched] = n_extra + np.arange(stretched.size) * (self.n_samples * n_active)
                    from_extra[stretched] = True
                    row_shifts[stretched], lengths[stretched] = 0, self.n_samples
                    extra_parts.append(waveforms.astype(np.float32).ravel())
                    n_extra += waveforms.size
            width = factors.shape[1]
            factor_starts = n_factors + np.arange(n_spikes, dtype=np.int64) * width
            per_unit["strides"][unit] = n_active
            if template_columns is None:
                per_unit["counts"][unit], per_unit["column_starts"][unit] = n_active, self._channel_starts[unit]
                per_unit["factor_widths"][unit] = width
            else:
                column = int(template_columns[unit])
                offsets += column
                per_unit["counts"][unit], per_unit["column_starts"][unit], per_unit["factor_widths"][unit] = 1, unit, 1
                if width > 1:
                    factor_starts += column
            parts.append(dict(order=onsets, onsets=onsets + row_shifts, lengths=lengths, offsets=offsets,
                              from_extra=from_extra, units=np.full(n_spikes, unit, dtype=np.int64),
                              factor_starts=factor_starts))
            factor_parts.append(factors.astype(np.float32, copy=False).ravel())
            n_factors += factors.size
        if not parts:
            return None, None, None
        table = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        order = np.argsort(table.pop("order"), kind="stable")  # by spike onset, ties in unit order
        table = {key: np.ascontiguousarray(values[order]) for key, values in table.items()}
        table["factors"] = np.concatenate(factor_parts)
        extra = np.concatenate(extra_parts) if extra_parts else np.zeros(1, dtype=np.float32)
        return table, extra, per_unit

    def _spikes_meeting(self, start: int, length: int):
        """Per unit with spikes whose template ``[frame - nbefore, frame - nbefore + n_samples)`` meets
        ``[start, start + length)``: (unit, first spike, last spike + 1)."""
        stop = start + length
        for unit, unit_frames in enumerate(self.frames):
            first = int(np.searchsorted(unit_frames, start + self.nbefore - self.n_samples + 1))
            last = int(np.searchsorted(unit_frames, stop + self.nbefore))
            if first < last:
                yield unit, first, last
