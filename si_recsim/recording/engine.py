"""The ground-truth model: everything a recording needs, built once from parameters and a library.

:func:`build_model` draws spike trains, selects and prepares templates, and sets up modulation,
noise, filter and output scaling. :meth:`GroundTruthModel.compute_block` then computes one block of
the fixed grid: noise and spikes over the block plus the filter margin on each side, the filter as
an FFT multiplication by its exact frequency response, and quantisation. Blocks are the only unit
of computation, so the value of a sample never depends on the window that asked for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from si_recsim.library.loading import load_template_library
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.recording.drift import build_drift, preferred_direction
from si_recsim.recording.filtering import LinearFilter, butterworth, resonant_peak
from si_recsim.recording.injection import SpikeInjector
from si_recsim.recording.modulation import Modulation, bursting_amplitudes
from si_recsim.recording.noise import (
    FarNeurons,
    GaussianNoise,
    WhiteNoise,
    apply_response,
    distance_correlation_factor,
    make_color_spec,
)
from si_recsim.recording.selection import overlapping_pairs, select_templates
from si_recsim.recording.spiketrains import SpikeTrains, add_synchrony, generate_spike_trains, spike_trains_from_times
from si_recsim.recording.template_processing import jitter_shifts, jittered_copies, pad_template, resample_template, taper_edges

_CACHED_BLOCKS = 2
# channels filtered and written out together: their temporaries stay small and in cache
_ROWS_PER_GROUP = 8


@dataclass
class UnitTable:
    """Ground-truth description of the units (one entry per unit)."""

    template_ids: np.ndarray
    cell_types: np.ndarray
    cell_models: np.ndarray
    locations: np.ndarray
    firing_rates: np.ndarray
    bursting: np.ndarray
    main_channel_indices: np.ndarray
    amplitudes: np.ndarray
    drifting: np.ndarray


class GroundTruthModel:
    """All arrays and components of one ground-truth recording (see :func:`build_model`)."""

    def __init__(self, *, params: dict, library: TemplateLibrary, sampling_frequency: float, num_samples: int,
                 t_start: float, spike_times: list, units: UnitTable, frames: list, injector: SpikeInjector,
                 noise, recording_filter: LinearFilter | None, block_size: int, margin: int, dtype: np.dtype,
                 gain_to_uV: float, lsb: float | None, overlapping: np.ndarray, drift=None):
        self.params = params
        self.library = library
        self.sampling_frequency = sampling_frequency
        self.num_samples = num_samples
        self.t_start = t_start
        self.spike_times = spike_times
        self.units = units
        self.frames = frames
        self.injector = injector
        self.noise = noise
        self.recording_filter = recording_filter
        self.block_size = block_size
        self.margin = margin
        self.dtype = dtype
        self.gain_to_uV = gain_to_uV
        self.lsb = lsb
        self.overlapping = overlapping
        self.drift = drift
        self.n_fft = block_size + 2 * margin
        self.response = None
        if recording_filter is not None:
            response = recording_filter.response(self.n_fft)
            self.response = response.astype(np.float32 if recording_filter.zero_phase else np.complex64)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._scratch = threading.local()

    @property
    def num_channels(self) -> int:
        return self.library.num_channels

    @property
    def channel_ids(self) -> np.ndarray:
        """Channel ids ``"0"``..``"n-1"`` (contact order of the library probe)."""
        return np.arange(self.num_channels).astype(str)

    @property
    def num_units(self) -> int:
        return len(self.frames)

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
        buffer = self._work_buffer((self.num_channels, length + 2 * self.margin))
        if self.noise is None:
            buffer.fill(0.0)
        else:
            self.noise.fill(buffer, start)
        self.injector.add_to(buffer, start)
        values = np.empty((length, self.num_channels), dtype=self.dtype)
        for first in range(0, self.num_channels, _ROWS_PER_GROUP):
            rows = buffer[first: first + _ROWS_PER_GROUP]
            if self.response is not None:
                rows = apply_response(rows, self.response, self.n_fft)
            self._write_output(rows[:, self.margin: self.margin + length], values[:, first: first + _ROWS_PER_GROUP])
        if keep:
            values.flags.writeable = False
            with self._lock:
                self._cache[block] = values
                while len(self._cache) > _CACHED_BLOCKS:
                    self._cache.popitem(last=False)
        return values

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
        """(rows, n) µV → ``out`` (n, rows) in output units and dtype."""
        values = values_uV if self.gain_to_uV == 1.0 else values_uV / np.float32(self.gain_to_uV)
        if self.lsb is not None:
            values = np.rint(values / np.float32(self.lsb)) * np.float32(self.lsb)
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            values = np.clip(values, info.min, info.max)
        np.copyto(out, values.T, casting="unsafe")

    def get_traces(self, start_frame: int, end_frame: int) -> np.ndarray:
        """Samples ``[start_frame, end_frame)``, all channels, assembled from whole blocks; the caller's own array."""
        if end_frame <= start_frame:
            return np.zeros((0, self.num_channels), dtype=self.dtype)
        first, last = start_frame // self.block_size, (end_frame - 1) // self.block_size
        pieces = []
        for block in range(first, last + 1):
            block_start, length = block * self.block_size, self.block_length(block)
            low, high = max(start_frame - block_start, 0), min(end_frame - block_start, length)
            pieces.append(self.compute_block(block, keep=(low, high) != (0, length))[low:high])
        if len(pieces) > 1:
            return np.concatenate(pieces)
        return pieces[0] if pieces[0].flags.writeable else pieces[0].copy()


# ------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------


def _stage_rng(params: dict, stage: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(params["seeds"][stage], spawn_key=keys))


def active_channels(template: np.ndarray, threshold: float) -> np.ndarray:
    """Channels where a template (n_samples, n_channels) reaches ``threshold`` times its peak."""
    peaks = np.abs(template).max(axis=0)
    return np.flatnonzero(peaks >= threshold * peaks.max())


def prepare_templates(library: TemplateLibrary, template_ids: np.ndarray, section: dict, fs: float,
                      rng: np.random.Generator | None) -> tuple[list, list, int]:
    """Restrict to active channels, then pad, resample, jitter (when ``rng`` is given) and taper.

    Drifting libraries keep their drift axis; every step of a unit gets the same jitter shifts.

    Returns
    -------
    templates : list of np.ndarray
        Per unit, (n_drift_steps, n_jitters, n_active_channels, n_samples) float32
        (n_drift_steps = 1 for static libraries, n_jitters = 1 without ``rng``).
    channels : list of np.ndarray
        Per unit, the active channel indices (``templates.sparsity_threshold``).
    nbefore : int
        Sample of the spike time in the prepared templates.
    """
    fs_library = library.sampling_frequency
    pad_before, pad_after = (int(round(value * fs_library / 1000.0)) for value in section["pad_len"])
    n_taper = int(section["smooth_percent"] * pad_before * fs / fs_library) // 2 * 2
    prepared, channels = [], []
    for template_id in template_ids:
        steps = library.templates[template_id]
        steps = steps[None] if steps.ndim == 2 else steps
        unit_channels = active_channels(np.abs(steps).max(axis=0), float(section["sparsity_threshold"]))
        shifts = jitter_shifts(int(section["n_jitters"]), int(section["upsample"]), rng) if rng is not None else None
        unit = []
        for step in steps:
            padded = pad_template(step[:, unit_channels].astype(float), pad_before, pad_after)
            resampled = resample_template(padded, fs_library, fs)
            if shifts is None:
                copies = resampled[None]
            else:
                copies = taper_edges(jittered_copies(resampled, shifts, int(section["upsample"])), n_taper,
                                     float(section["smooth_strength"]))
            unit.append(copies.transpose(0, 2, 1))
        prepared.append(np.ascontiguousarray(np.stack(unit), dtype=np.float32))
        channels.append(unit_channels)
    nbefore = int(round((library.nbefore + pad_before) * fs / fs_library))
    return prepared, channels, nbefore


def _cache_key(params: dict, library_spec, spike_times, unit_types) -> str:
    digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode())
    if isinstance(library_spec, dict) and "templates" in library_spec:
        digest.update(np.ascontiguousarray(np.asarray(library_spec["templates"], dtype=np.float32)).tobytes())
        digest.update(np.asarray(library_spec["locations"], dtype=float).tobytes())
    else:
        digest.update(json.dumps(library_spec, sort_keys=True, default=str).encode())
    if spike_times is not None:
        for unit_times in spike_times:
            digest.update(np.asarray(unit_times, dtype=float).tobytes())
        digest.update(json.dumps(list(unit_types or [])).encode())
    return digest.hexdigest()


_MODEL_CACHE: OrderedDict = OrderedDict()
_MODEL_CACHE_SIZE = 2
_MODEL_CACHE_LOCK = threading.Lock()


def get_model(params: dict, library_spec, spike_times: list | None = None, unit_types: list | None = None,
              library: TemplateLibrary | None = None) -> GroundTruthModel:
    """:func:`build_model`, reusing the model of identical arguments built in this process.

    ``library``, when given, is the already loaded library that ``library_spec`` describes.
    """
    key = _cache_key(params, library_spec, spike_times, unit_types)
    with _MODEL_CACHE_LOCK:
        if key in _MODEL_CACHE:
            _MODEL_CACHE.move_to_end(key)
            return _MODEL_CACHE[key]
    model = build_model(params, library or load_template_library(library_spec), spike_times, unit_types)
    with _MODEL_CACHE_LOCK:
        _MODEL_CACHE[key] = model
        while len(_MODEL_CACHE) > _MODEL_CACHE_SIZE:
            _MODEL_CACHE.popitem(last=False)
    return model


def build_model(params: dict, library: TemplateLibrary, spike_times: list | None = None,
                unit_types: list | None = None) -> GroundTruthModel:
    """Build the ground-truth model from validated parameters (with concrete seeds).

    Parameters
    ----------
    params : dict
        Output of :func:`si_recsim.params.build_params`.
    library : TemplateLibrary
    spike_times : list of array-like | None, default: None
        User spike trains in seconds (replacing the drawn ones), within
        ``[t_start, t_start + duration)``.
    unit_types : list of str | None, default: None
        ``"E"``/``"I"`` per user spike train (default all ``"E"``).

    Returns
    -------
    model : GroundTruthModel
    """
    trains_section, templates_section = params["spiketrains"], params["templates"]
    recordings_section = params["recordings"]
    fs = float(recordings_section["fs"] or library.sampling_frequency)
    t_start = float(trains_section["t_start"])
    num_samples = int(round(float(trains_section["duration"]) * fs))

    drifting = bool(recordings_section["drifting"])
    if drifting and library.drift_steps is None:
        raise ParameterError(
            "recordings.drifting = true needs a drifting template library: make one with si-recsim gen-templates "
            "--set drifting=true, or set recordings.drifting to false."
        )
    if not drifting:
        library = library.static()

    if spike_times is not None:
        trains = spike_trains_from_times(spike_times, t_start, t_start + float(trains_section["duration"]), unit_types)
    else:
        trains = generate_spike_trains(trains_section, params["seeds"]["spiketrains"])

    template_ids = _choose_templates(library, trains, params)
    jitter_rng = _stage_rng(params, "convolution", 0)
    templates, channels, nbefore = prepare_templates(library, template_ids, templates_section, fs, jitter_rng)

    static = library.static()
    overlapping = overlapping_pairs(static.templates[template_ids], templates_section["overlap_threshold"])
    if recordings_section["sync_rate"] and len(overlapping):
        trains = add_synchrony(trains, overlapping, float(recordings_section["sync_rate"]),
                               float(recordings_section["sync_jitt"]) / 1000.0,
                               float(trains_section["ref_per"]) / 1000.0, _stage_rng(params, "spiketrains", 1))

    frames = [np.floor((times - t_start) * fs).astype(np.int64) for times in trains.times]
    frames = [np.clip(unit_frames, 0, num_samples - 1) for unit_frames in frames]
    selection_rng = _stage_rng(params, "convolution", 1)
    n_jitters = int(templates_section["n_jitters"])
    jitter_indices = [selection_rng.integers(0, n_jitters, size=len(unit_frames)).astype(np.int16)
                      for unit_frames in frames]
    drift = None
    if drifting:
        drift = build_drift(recordings_section, library.locations[template_ids], t_start,
                            float(trains_section["duration"]), _stage_rng(params, "convolution", 3))
        drift_indices = [drift.step_indices(unit, times) for unit, times in enumerate(trains.times)]
    else:
        drift_indices = [np.zeros(len(unit_frames), dtype=np.int16) for unit_frames in frames]

    bursting = _bursting_units(trains.num_units, recordings_section, _stage_rng(params, "convolution", 2))
    burst_amplitudes = _burst_amplitudes(trains, bursting, recordings_section)
    modulation = Modulation(recordings_section["modulation"], recordings_section["sdrand"],
                            params["seeds"]["convolution"], [len(unit_channels) for unit_channels in channels],
                            burst_amplitudes)
    shape_stretch = float(recordings_section["shape_stretch"]) if recordings_section["shape_mod"] else None
    injector = SpikeInjector(templates, channels, nbefore, frames, jitter_indices, drift_indices, modulation,
                             shape_stretch)

    recording_filter = None
    if recordings_section["filter"]:
        recording_filter = butterworth(recordings_section["filter_cutoff"], int(recordings_section["filter_order"]),
                                       fs, recordings_section["filter_mode"])
    margin = recording_filter.margin() if recording_filter is not None else 0
    block_size = fft_block_size(float(recordings_section["block_duration"]) * fs, margin)
    noise = _build_noise(params, library, template_ids, fs, block_size, margin, trains_section)

    dtype = np.dtype(recordings_section["dtype"])
    gain_to_uV, lsb = _output_scaling(recordings_section, dtype, np.abs(library.templates[template_ids]).max())

    units = UnitTable(
        template_ids=template_ids,
        cell_types=trains.types,
        cell_models=library.cell_types[template_ids],
        locations=static.locations[template_ids],
        firing_rates=trains.rates,
        bursting=bursting,
        main_channel_indices=np.argmin(static.templates[template_ids].min(axis=1), axis=1),
        amplitudes=library.amplitudes()[template_ids],
        drifting=np.zeros(len(template_ids), dtype=bool) if drift is None else drift.factors != 0,
    )
    return GroundTruthModel(
        params=params, library=library, sampling_frequency=fs, num_samples=num_samples, t_start=t_start,
        spike_times=trains.times, units=units, frames=frames, injector=injector, noise=noise,
        recording_filter=recording_filter, block_size=block_size, margin=margin, dtype=dtype,
        gain_to_uV=gain_to_uV, lsb=lsb, overlapping=overlapping, drift=drift,
    )


def fft_block_size(approximate_size: float, margin: int) -> int:
    """Block length whose extended length (block + 2 margins) is the nearest power of two."""
    n_fft = 1 << int(round(np.log2(approximate_size + 2 * margin)))
    while n_fft - 2 * margin < 2 * margin + 1:
        n_fft *= 2
    return n_fft - 2 * margin


def _choose_templates(library: TemplateLibrary, trains: SpikeTrains, params: dict) -> np.ndarray:
    ids = params["templates"]["template_ids"]
    if ids is None:
        section = params["recordings"]
        direction = preferred_direction(section) if library.drift_steps is not None else None
        return select_templates(library, trains.types, params["templates"], params["cell_types"],
                                _stage_rng(params, "templates", 0), direction, float(section["angle_tol"]))
    ids = np.asarray(ids, dtype=int)
    if ids.size != trains.num_units:
        raise ParameterError(
            f"templates.template_ids lists {ids.size} templates for {trains.num_units} units: give one per unit."
        )
    if ids.max() >= library.num_templates:
        raise ParameterError(
            f"templates.template_ids contains {ids.max()} but the library has {library.num_templates} templates."
        )
    return ids


def _bursting_units(n_units: int, section: dict, rng: np.random.Generator) -> np.ndarray:
    bursting = np.zeros(n_units, dtype=bool)
    if not section["bursting"]:
        return bursting
    if section["bursting_units"] is not None:
        units = np.asarray(section["bursting_units"], dtype=int)
        if units.size and units.max() >= n_units:
            raise ParameterError(f"recordings.bursting_units names unit {units.max()} but there are {n_units} units.")
        bursting[units] = True
    elif section["n_bursting"] is not None:
        if section["n_bursting"] > n_units:
            raise ParameterError(f"recordings.n_bursting ({section['n_bursting']}) exceeds the {n_units} units.")
        bursting[rng.choice(n_units, int(section["n_bursting"]), replace=False)] = True
    else:
        bursting[:] = True
    return bursting


def _burst_amplitudes(trains: SpikeTrains, bursting: np.ndarray, section: dict) -> list:
    exp_decay = section["exp_decay"]
    decays = list(exp_decay) if isinstance(exp_decay, (list, tuple)) else [exp_decay] * int(bursting.sum())
    if len(decays) != bursting.sum():
        raise ParameterError(
            f"recordings.exp_decay lists {len(decays)} values for {int(bursting.sum())} bursting units: "
            "give one value, or one per bursting unit."
        )
    amplitudes, decay_iter = [], iter(decays)
    for unit, times in enumerate(trains.times):
        if bursting[unit]:
            amplitudes.append(bursting_amplitudes(times * 1000.0, float(next(decay_iter)),
                                                  int(section["n_burst_spikes"]), float(section["max_burst_duration"])))
        else:
            amplitudes.append(None)
    return amplitudes


def _build_noise(params: dict, library: TemplateLibrary, template_ids: np.ndarray, fs: float, block_size: int,
                 margin: int, trains_section: dict):
    section = params["recordings"]
    level = float(section["noise_level"])
    mode = section["noise_mode"]
    color = None
    if section["noise_color"] and mode != "far-neurons":
        color = make_color_spec(resonant_peak(float(section["color_peak"]), float(section["color_q"]), fs), level,
                                float(section["color_noise_floor"]))
    white_margin = margin + (color.margin if color is not None else 0)
    white = WhiteNoise(params["seeds"]["noise"], library.num_channels, block_size, white_margin)
    if mode == "far-neurons":
        return _build_far_neurons(params, library, template_ids, fs, white, trains_section)
    if level == 0:
        return None
    mixing = None
    if mode == "distance-correlated":
        mixing = distance_correlation_factor(library.channel_locations, float(section["noise_half_distance"]))
    return GaussianNoise(white, level, mixing, color)


def _build_far_neurons(params: dict, library: TemplateLibrary, template_ids: np.ndarray, fs: float,
                       white: WhiteNoise, trains_section: dict) -> FarNeurons:
    section = params["recordings"]
    n_far = int(section["far_neurons_n"])
    rng = _stage_rng(params, "noise", 0)
    amplitudes = library.amplitudes()
    candidates = np.setdiff1d(np.flatnonzero(amplitudes < section["far_neurons_max_amp"]), template_ids)
    chosen = []
    for index in rng.permutation(candidates):
        if not chosen or np.min(np.linalg.norm(library.locations[chosen] - library.locations[index], axis=1)) >= 1.0:
            chosen.append(int(index))
        if len(chosen) == n_far:
            break
    if len(chosen) < n_far:
        raise ParameterError(
            f"far-neurons noise needs {n_far} library templates below {section['far_neurons_max_amp']} uV, but the "
            f"library ({library.source}) has {len(chosen)}: lower recordings.far_neurons_n, raise "
            "recordings.far_neurons_max_amp, or use a library with more low-amplitude templates."
        )
    n_exc = int(round(section["far_neurons_exc_inh_ratio"] * n_far))
    far_trains = generate_spike_trains({**trains_section, "rates": None, "types": None, "n_exc": n_exc,
                                        "n_inh": n_far - n_exc}, int(rng.integers(2**32)))
    templates, channels, nbefore = prepare_templates(library, np.asarray(chosen), params["templates"], fs, rng=None)
    num_samples = int(round(float(trains_section["duration"]) * fs))
    frames = [np.clip(np.floor((times - far_trains.t_start) * fs).astype(np.int64), 0, num_samples - 1)
              for times in far_trains.times]
    zeros = [np.zeros(len(unit_frames), dtype=np.int16) for unit_frames in frames]
    injector = SpikeInjector(templates, channels, nbefore, frames, zeros, zeros)
    return FarNeurons(injector, far_trains.rates, white, float(section["noise_level"]),
                      float(section["far_neurons_noise_floor"]), fs, library.num_channels)


def _output_scaling(section: dict, dtype: np.dtype, max_template_uV: float) -> tuple[float, float | None]:
    """Gain (µV per output unit) and quantisation step, MEArec's rules (reference notes 3.8)."""
    lsb = section["lsb"]
    if dtype.kind in "iu":
        lsb = 1.0 if lsb is None else float(lsb)
        if section["gain"] is not None:
            return float(section["gain"]), lsb
        if section["adc_bit_depth"] is not None:
            signal_range = lsb * 2 ** int(section["adc_bit_depth"])
            half_span = max_template_uV + 3.0 * float(section["noise_level"])
            return float(2.0 * half_span / signal_range), lsb
        return 1.0, lsb
    gain = 1.0 if section["gain"] is None else float(section["gain"])
    return gain, None if lsb is None else float(lsb)
