"""The trace engine: every sample of a ground-truth recording, computed a block at a time.

:func:`build_engine` prepares the units' templates (sparsified, padded, resampled, jittered),
their per-spike modulation and drift steps, the noise, the filter and the output scaling, from the
parameters and the units' spike frames (given by the ground-truth sorting, see
:mod:`si_recsim.recording.units`). :meth:`TraceEngine.compute_block` then computes one block of
the fixed grid in the recording's (n_samples, n_channels) layout: noise and spikes over the block
plus the filter margin on each side, the filter's sections run forward and backward from rest, and
quantisation. Blocks are the only unit of computation, so the value of a sample never depends on
the window that asked for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from si_recsim.library.bank_library import templates_along
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import RecordingParameters, RecordingSectionParams, TemplateSelectionParams
from si_recsim.recording.drift import DriftModel
from si_recsim.recording.filtering import LinearFilter, butterworth, resonant_peak
from si_recsim.recording.fitted_noise import FittedNoise, load_noise_model
from si_recsim.recording.injection import SpikeInjector
from si_recsim.recording.modulation import Modulation, bursting_amplitudes
from si_recsim.recording.noise import FarNeurons, GaussianNoise, WhiteNoise, distance_correlation_factor, make_color_spec
from si_recsim.recording.spiketrains import generate_spike_trains
from si_recsim.recording.template_processing import (
    jitter_shifts,
    pad_template,
    resample_template,
    shifted_copies,
    taper_edges,
    upsample_template,
)
from si_recsim.recording.units import num_samples, recording_library, sampling_frequency, stage_rng, unit_drift

_CACHED_BLOCKS = 2


class TraceEngine:
    """Computes the samples of one recording (see :func:`build_engine`)."""

    def __init__(self, *, num_channels: int, sampling_frequency: float, num_samples: int, injector: SpikeInjector,
                 noise, recording_filter: LinearFilter | None, block_size: int, margin: int, dtype: np.dtype,
                 gain_to_uV: float, lsb: float | None, drift: DriftModel | None = None,
                 unit_library: TemplateLibrary | None = None, unit_indices: np.ndarray | None = None,
                 copy_of_jitter: list | None = None):
        self.num_channels = num_channels
        self.sampling_frequency = sampling_frequency
        self.num_samples = num_samples
        self.injector = injector
        self.noise = noise
        self.recording_filter = recording_filter
        self.block_size = block_size
        self.margin = margin
        self.dtype = dtype
        self.gain_to_uV = gain_to_uV
        self.lsb = lsb
        self.drift = drift
        self.unit_library = unit_library  # the units' templates are unit_library.templates[unit_indices]
        self.unit_indices = unit_indices
        self.copy_of_jitter = copy_of_jitter  # per unit, the injector's template copy of each jitter
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._scratch = threading.local()

    def compute_block(self, block: int, keep: bool = False) -> np.ndarray:
        """Samples of block ``block`` in output units and dtype, all channels.

        With ``keep`` the block is cached (for windows that read it piecewise) and returned
        read-only; callers copy what they hand out. Otherwise a cached block is returned as is
        (read-only) and a computed one is the caller's own.
        """
        with self._lock:
            if block in self._cache:
                self._cache.move_to_end(block)
                return self._cache[block]
        start = block * self.block_size - self.margin
        length = self.block_length(block)
        shape = (length + 2 * self.margin, self.num_channels)
        as_is = self.dtype == np.float32 and self.gain_to_uV == 1.0 and self.lsb is None
        # µV float32 output is the buffer itself (the caller's own); other outputs convert from a reused one
        buffer = np.empty(shape, dtype=np.float32) if as_is else self._work_buffer(shape)
        if self.noise is None:
            buffer.fill(0.0)
        else:
            self.noise.fill(buffer, start)
        self.injector.add_to(buffer, start)
        if self.recording_filter is not None:
            self.recording_filter.apply(buffer)
        if as_is:
            values = buffer[self.margin: self.margin + length]
        else:
            values = np.empty((length, self.num_channels), dtype=self.dtype)
            self._write_output(buffer[self.margin: self.margin + length], values)
        if keep:
            values.flags.writeable = False
            with self._lock:
                self._cache[block] = values
                while len(self._cache) > _CACHED_BLOCKS:
                    self._cache.popitem(last=False)
        return values

    def add_spikes_to(self, values: np.ndarray, start: int) -> None:
        """Add the units' spikes (µV, unfiltered, without noise) to samples ``[start, start + n)`` of
        ``values`` (n, n_channels) float32, in place: what a recording without filter holds beyond its
        noise, for any window (a hybrid adds its units to its parent's samples this way)."""
        if self.recording_filter is not None:
            raise ParameterError("This recording filters its spikes: read its blocks (get_traces) instead.")
        self.injector.add_to(values, start)

    def unit_templates(self) -> TemplateLibrary:
        """The units' templates in unit order, at the library's rate (with the drift axis, along each
        unit's trajectory, when the recording drifts)."""
        library, ids = self.unit_library, self.unit_indices
        return TemplateLibrary(templates=library.templates[ids], locations=library.locations[ids],
                               cell_models=library.cell_models[ids], sampling_frequency=library.sampling_frequency,
                               nbefore=library.nbefore, probe=library.probe, source=library.source,
                               rotations=None if library.rotations is None else library.rotations[ids])

    def jittered_templates(self, unit: int) -> np.ndarray:
        """The copies ``unit``'s spikes are drawn from, dense over channels: (n_drift_steps, n_jitters,
        n_samples, n_channels) float32 µV at the recording's rate, spike time at ``injector.nbefore``."""
        sparse = self.injector.templates[unit][:, self.copy_of_jitter[unit]]
        dense = np.zeros(sparse.shape[:3] + (self.num_channels,), dtype=np.float32)
        dense[..., self.injector.channels[unit]] = sparse
        return dense

    def block_length(self, block: int) -> int:
        """Samples of block ``block`` (the last block may be short)."""
        return min(self.block_size, self.num_samples - block * self.block_size)

    def _work_buffer(self, shape: tuple) -> np.ndarray:
        """This thread's float32 scratch array of ``shape`` (reused: fresh pages are slow to fault in)."""
        buffer = getattr(self._scratch, "buffer", None)
        if buffer is None or buffer.shape != shape:
            buffer = self._scratch.buffer = np.empty(shape, dtype=np.float32)
        return buffer

    def _write_output(self, values_uV: np.ndarray, out: np.ndarray) -> None:
        """(n, n_channels) µV → ``out`` in output units and dtype."""
        values = values_uV if self.gain_to_uV == 1.0 else values_uV / np.float32(self.gain_to_uV)
        if self.lsb is not None:
            values = np.rint(values / np.float32(self.lsb)) * np.float32(self.lsb)
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            values = np.clip(values, info.min, info.max)
        np.copyto(out, values, casting="unsafe")

    def get_traces(self, start_frame: int, end_frame: int) -> np.ndarray:
        """Samples ``[start_frame, end_frame)``, all channels, assembled from whole blocks; the caller's own array."""
        if end_frame <= start_frame:
            return np.zeros((0, self.num_channels), dtype=self.dtype)
        first, last = start_frame // self.block_size, (end_frame - 1) // self.block_size
        if first == last:
            block_start, length = first * self.block_size, self.block_length(first)
            low, high = start_frame - block_start, end_frame - block_start
            piece = self.compute_block(first, keep=(low, high) != (0, length))[low:high]
            return piece if piece.flags.writeable else piece.copy()
        traces = np.empty((end_frame - start_frame, self.num_channels), dtype=self.dtype)  # filled block by block
        for block in range(first, last + 1):
            block_start, length = block * self.block_size, self.block_length(block)
            low, high = max(start_frame - block_start, 0), min(end_frame - block_start, length)
            traces[block_start + low - start_frame: block_start + high - start_frame] = \
                self.compute_block(block, keep=(low, high) != (0, length))[low:high]
        return traces


# ------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------


def active_channels(template: np.ndarray, threshold: float) -> np.ndarray:
    """Channels where a template (n_samples, n_channels) reaches ``threshold`` times its peak."""
    peaks = np.abs(template).max(axis=0)
    return np.flatnonzero(peaks >= threshold * peaks.max())


def prepare_templates(library: TemplateLibrary, template_ids: np.ndarray, section: TemplateSelectionParams, fs: float,
                      rng: np.random.Generator | None) -> tuple[list, list, int]:
    """Restrict to active channels, then pad, resample, jitter (when ``rng`` is given) and taper.

    Drifting libraries keep their drift axis; every step of a unit gets the same jitter shifts.
    ``n_jitters`` shifts are drawn per unit; copies are made for the distinct ones only.

    Returns
    -------
    templates : list of np.ndarray
        Per unit, (n_drift_steps, n_copies, n_samples, n_active_channels) float32
        (n_drift_steps = 1 for static libraries, n_copies = 1 without ``rng``).
    channels : list of np.ndarray
        Per unit, the active channel indices (``templates.sparsity_threshold``).
    nbefore : int
        Sample of the spike time in the prepared templates.
    copy_of_jitter : list of np.ndarray
        Per unit, the copy each of the ``n_jitters`` jitters uses (int16).
    """
    fs_library = library.sampling_frequency
    pad_before, pad_after = (int(round(value * fs_library / 1000.0)) for value in section.pad_len)
    n_taper = int(section.smooth_percent * pad_before * fs / fs_library) // 2 * 2
    upsample = int(section.upsample)
    units = []  # (drift steps on the active channels, active channels, jitter shifts) per unit
    for template_id in template_ids:
        steps = library.templates[template_id]
        steps = steps[None] if steps.ndim == 2 else steps
        unit_channels = active_channels(np.abs(steps).max(axis=0), float(section.sparsity_threshold))
        shifts = jitter_shifts(int(section.n_jitters), upsample, rng) if rng is not None else np.zeros(1, int)
        units.append((steps[..., unit_channels], unit_channels, shifts))
    prepared, copy_of_jitter = [], []
    for batch in _column_batches([unit[0] for unit in units]):
        # every step of every unit of the batch side by side: one resampling call for all of them
        columns = np.concatenate([np.moveaxis(units[index][0], 0, 1).reshape(units[index][0].shape[1], -1)
                                  for index in batch], axis=1).astype(float)
        resampled = resample_template(pad_template(columns, pad_before, pad_after), fs_library, fs)
        upsampled = upsample_template(resampled, upsample) if rng is not None else None
        first = 0
        for index in batch:
            unit_steps, _, shifts = units[index]
            width = unit_steps.shape[0] * unit_steps.shape[2]
            distinct, jitter_copies = np.unique(shifts, return_inverse=True)
            copy_of_jitter.append(jitter_copies.astype(np.int16))
            if rng is None:
                copies = resampled[None, :, first: first + width]
            else:
                copies = taper_edges(shifted_copies(upsampled[:, first: first + width], distinct, upsample,
                                                    resampled.shape[0]), n_taper, float(section.smooth_strength))
            n_copies, n_samples = copies.shape[:2]
            unit = copies.reshape(n_copies, n_samples, unit_steps.shape[0], unit_steps.shape[2]).transpose(2, 0, 1, 3)
            prepared.append(np.ascontiguousarray(unit, dtype=np.float32))
            first += width
    nbefore = int(round((library.nbefore + pad_before) * fs / fs_library))
    return prepared, [unit[1] for unit in units], nbefore, copy_of_jitter


_BATCH_COLUMNS = 2048  # template columns resampled together (bounds the upsampled temporaries)


def _column_batches(unit_steps: list) -> list[list[int]]:
    """Consecutive units grouped so that each group has at most ``_BATCH_COLUMNS`` columns (or one unit)."""
    batches, current, count = [], [], 0
    for index, steps in enumerate(unit_steps):
        width = steps.shape[0] * steps.shape[2]
        if current and count + width > _BATCH_COLUMNS:
            batches.append(current)
            current, count = [], 0
        current.append(index)
        count += width
    return batches + [current] if current else batches


def build_engine(params: RecordingParameters, library: TemplateLibrary, frames: list, template_ids: np.ndarray,
                 bursting: np.ndarray) -> TraceEngine:
    """The trace engine of a recording whose units are given (normally by its ground-truth sorting).

    Parameters
    ----------
    params : RecordingParameters
        Output of :func:`si_recsim.params.build_params`.
    library : TemplateLibrary
    frames : list of np.ndarray
        Sorted spike sample indices per unit, relative to ``spiketrains.t_start``.
    template_ids : np.ndarray
        Library index per unit.
    bursting : np.ndarray
        Bool per unit.

    Returns
    -------
    engine : TraceEngine
    """
    library = recording_library(params, library)
    fs = sampling_frequency(params, library)
    t_start = float(params.spiketrains.t_start)
    times = [t_start + np.asarray(unit_frames, dtype=float) / fs for unit_frames in frames]

    drift = unit_drift(params, library, template_ids)
    unit_library, unit_ids = library, template_ids
    if drift is not None and library.drift_steps is None:  # a bank library: templates along the trajectories
        unit_library = TemplateLibrary(
            templates=templates_along(library, template_ids, drift.trajectories), locations=drift.trajectories,
            cell_models=library.cell_models[template_ids], sampling_frequency=library.sampling_frequency,
            nbefore=library.nbefore, probe=library.probe, source=library.source,
            rotations=library.rotations[template_ids] if library.rotations is not None else None)
        unit_ids = np.arange(len(template_ids))
    templates, channels, nbefore, copy_of_jitter = prepare_templates(unit_library, unit_ids, params.templates, fs,
                                                                     stage_rng(params, "convolution", 0))
    jitter_rng = stage_rng(params, "convolution", 1)
    n_jitters = int(params.templates.n_jitters)
    copy_indices = [copies[jitter_rng.integers(0, n_jitters, size=len(unit_frames))]
                    for copies, unit_frames in zip(copy_of_jitter, frames)]
    if drift is None:
        drift_indices = [np.zeros(len(unit_frames), dtype=np.int16) for unit_frames in frames]
    else:
        drift_indices = [drift.step_indices(unit, unit_times) for unit, unit_times in enumerate(times)]
    modulation = Modulation(params.recordings.modulation, params.recordings.sdrand, params.seeds.convolution,
                            channels, library.num_channels, _burst_amplitudes(times, bursting, params.recordings))
    shape_stretch = float(params.recordings.shape_stretch) if params.recordings.shape_mod else None
    injector = SpikeInjector(templates, channels, nbefore, frames, copy_indices, drift_indices, modulation,
                             shape_stretch)

    recording_filter = None
    if params.recordings.filter:
        recording_filter = butterworth(params.recordings.filter_cutoff, int(params.recordings.filter_order),
                                       fs, params.recordings.filter_mode)
    margin = recording_filter.margin() if recording_filter is not None else 0
    block_size = max(2, 2 * int(round(float(params.recordings.block_duration) * fs / 2)))
    noise = _build_noise(params, library, template_ids, fs)

    dtype = np.dtype(params.recordings.dtype)
    gain_to_uV, lsb = _output_scaling(params.recordings, dtype, np.abs(unit_library.templates[unit_ids]).max())
    return TraceEngine(
        num_channels=library.num_channels, sampling_frequency=fs, num_samples=num_samples(params, fs),
        injector=injector, noise=noise, recording_filter=recording_filter, block_size=block_size, margin=margin,
        dtype=dtype, gain_to_uV=gain_to_uV, lsb=lsb, drift=drift, unit_library=unit_library, unit_indices=unit_ids,
        copy_of_jitter=copy_of_jitter,
    )


def _burst_amplitudes(times: list, bursting: np.ndarray, section: RecordingSectionParams) -> list:
    exp_decay = section.exp_decay
    decays = list(exp_decay) if isinstance(exp_decay, (list, tuple)) else [exp_decay] * int(bursting.sum())
    if len(decays) != bursting.sum():
        raise ParameterError(
            f"recordings.exp_decay lists {len(decays)} values for {int(bursting.sum())} bursting units: "
            "give one value, or one per bursting unit."
        )
    amplitudes, decay_iter = [], iter(decays)
    for unit, unit_times in enumerate(times):
        if bursting[unit]:
            amplitudes.append(bursting_amplitudes(unit_times * 1000.0, float(next(decay_iter)),
                                                  int(section.n_burst_spikes), float(section.max_burst_duration)))
        else:
            amplitudes.append(None)
    return amplitudes


def _build_noise(params: RecordingParameters, library: TemplateLibrary, template_ids: np.ndarray, fs: float):
    section = params.recordings
    level = float(section.noise_level)
    mode = section.noise_mode
    color = None
    if section.noise_color and mode != "far-neurons":
        color = make_color_spec(resonant_peak(float(section.color_peak), float(section.color_q), fs), level,
                                float(section.color_noise_floor))
    if mode == "none":
        return None
    white = WhiteNoise(params.seeds.noise, library.num_channels)
    if mode == "fitted":
        return _build_fitted(section, library, fs, white)
    if mode == "far-neurons":
        return _build_far_neurons(params, library, template_ids, fs, white)
    if level == 0:
        return None
    mixing = None
    if mode == "distance-correlated":
        mixing = distance_correlation_factor(library.channel_locations, float(section.noise_half_distance))
    return GaussianNoise(white, level, mixing, color)


def _build_fitted(section: RecordingSectionParams, library: TemplateLibrary, fs: float, white: WhiteNoise) -> FittedNoise:
    if section.noise_model is None:
        raise ParameterError("noise_mode fitted needs recordings.noise_model: a file from "
                             "si_recsim.fit_noise_model(recording).save(path).")
    model = load_noise_model(section.noise_model)
    if model.num_channels != library.num_channels or not np.isclose(model.sampling_frequency, fs):
        raise ParameterError(f"The noise model {section.noise_model} has {model.num_channels} channels at "
                             f"{model.sampling_frequency} Hz but the recording {library.num_channels} at {fs} Hz: fit "
                             "it on a recording of this probe, or record with the model's probe and rate.")
    return FittedNoise(white, model)


def _build_far_neurons(params: RecordingParameters, library: TemplateLibrary, template_ids: np.ndarray, fs: float,
                       white: WhiteNoise) -> FarNeurons:
    section = params.recordings
    n_far = int(section.far_neurons_n)
    rng = stage_rng(params, "noise", 0)
    amplitudes = library.amplitudes()
    candidates = np.setdiff1d(np.flatnonzero(amplitudes < section.far_neurons_max_amp), template_ids)
    chosen = []
    for index in rng.permutation(candidates):
        if not chosen or np.min(np.linalg.norm(library.locations[chosen] - library.locations[index], axis=1)) >= 1.0:
            chosen.append(int(index))
        if len(chosen) == n_far:
            break
    if len(chosen) < n_far:
        raise ParameterError(
            f"far-neurons noise needs {n_far} library templates below {section.far_neurons_max_amp} uV, but the "
            f"library ({library.source}) has {len(chosen)}: lower recordings.far_neurons_n, raise "
            "recordings.far_neurons_max_amp, or use a library with more low-amplitude templates."
        )
    n_exc = int(round(section.far_neurons_exc_inh_ratio * n_far))
    background = params.spiketrains.model_copy(update={"rates": None, "types": None, "n_exc": n_exc,
                                                       "n_inh": n_far - n_exc})
    far_trains = generate_spike_trains(background, int(rng.integers(2**32)))
    templates, channels, nbefore, _ = prepare_templates(library, np.asarray(chosen), params.templates, fs, rng=None)
    n_samples = num_samples(params, fs)
    frames = [np.clip(np.floor((times - far_trains.t_start) * fs).astype(np.int64), 0, n_samples - 1)
              for times in far_trains.times]
    zeros = [np.zeros(len(unit_frames), dtype=np.int16) for unit_frames in frames]
    injector = SpikeInjector(templates, channels, nbefore, frames, zeros, zeros)
    return FarNeurons(injector, far_trains.rates, white, float(section.noise_level),
                      float(section.far_neurons_noise_floor), fs, library.num_channels)


def _output_scaling(section: RecordingSectionParams, dtype: np.dtype, max_template_uV: float) -> tuple[float, float | None]:
    """Gain (µV per output unit) and quantisation step, MEArec's rules (reference notes 3.8)."""
    lsb = section.lsb
    if dtype.kind in "iu":
        lsb = 1.0 if lsb is None else float(lsb)
        if section.gain is not None:
            return float(section.gain), lsb
        if section.adc_bit_depth is not None:
            signal_range = lsb * 2 ** int(section.adc_bit_depth)
            half_span = max_template_uV + 3.0 * float(section.noise_level)
            return float(2.0 * half_span / signal_range), lsb
        return 1.0, lsb
    gain = 1.0 if section.gain is None else float(section.gain)
    return gain, None if lsb is None else float(lsb)
