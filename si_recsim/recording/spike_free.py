"""The samples of a recording away from its spikes, for noise measurements (fits, scorecards)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from si_recsim.errors import InputError

MASK_MS = (1.0, 2.0)  # masked before and after each detected peak, ms


@dataclass
class MaskedTraces:
    """The first seconds of a recording with its detected peaks.

    Attributes
    ----------
    traces : np.ndarray
        (n_samples, n_channels) float64 µV.
    keep : np.ndarray
        (n_samples,) bool: samples away from every peak (all channels).
    peaks : np.ndarray
        SpikeInterface's peak vector (``sample_index``, ``channel_index``, ``amplitude``).
    sampling_frequency : float
    """

    traces: np.ndarray
    keep: np.ndarray
    peaks: np.ndarray
    sampling_frequency: float


def masked_traces(recording, duration: float, detect_threshold: float = 5.0, min_samples: int = 0,
                  mask_ms: tuple[float, float] = MASK_MS) -> MaskedTraces:
    """Read the first ``duration`` seconds (first segment, µV) and mask ``mask_ms`` around every peak
    SpikeInterface's ``by_channel`` detection finds (``detect_threshold`` MADs, both signs)."""
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    fs = recording.sampling_frequency
    n_samples = min(recording.get_num_samples(0), int(round(duration * fs)))
    if n_samples < min_samples:
        raise InputError(f"The recording has {n_samples} samples to measure; at least {min_samples} are needed "
                         "(raise duration).")
    part = recording.frame_slice(0, n_samples) if recording.get_num_samples(0) > n_samples else recording
    traces = part.get_traces(segment_index=0, return_in_uV=True).astype(np.float64)
    peaks = detect_peaks(part, method="by_channel",
                         method_kwargs=dict(detect_threshold=detect_threshold, peak_sign="both"),
                         job_kwargs=dict(n_jobs=1, progress_bar=False))
    keep = np.ones(n_samples, dtype=bool)
    before, after = (int(round(value * fs / 1000.0)) for value in mask_ms)
    for index in np.unique(peaks["sample_index"]):
        keep[max(index - before, 0): index + after] = False
    return MaskedTraces(traces, keep, peaks, float(fs))


def clean_windows(keep: np.ndarray, n_fft: int) -> list[int]:
    """Starts of non-overlapping ``n_fft``-sample windows whose samples are all kept."""
    starts, run_start = [], None
    for index, value in enumerate(np.append(keep, False)):
        if value and run_start is None:
            run_start = index
        elif not value and run_start is not None:
            starts.extend(range(run_start, index - n_fft + 1, n_fft))
            run_start = None
    return starts


def channel_spectra(masked: MaskedTraces, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectra (n_channels, n_frequencies) µV²/Hz of the spike-free windows (Hann), and
    their frequencies (Hz)."""
    windows = clean_windows(masked.keep, n_fft)
    if len(windows) < 4:
        raise InputError(f"Only {len(windows)} spike-free stretches of {n_fft} samples: the recording is too busy "
                         "for a spectrum; lower n_fft or raise duration.")
    taper = np.hanning(n_fft)
    total = np.zeros((masked.traces.shape[1], n_fft // 2 + 1))
    for start in windows:
        segment = masked.traces[start: start + n_fft]
        segment = (segment - segment.mean(axis=0)) * taper[:, None]
        total += np.abs(np.fft.rfft(segment, axis=0).T) ** 2
    psd = 2.0 * total / (len(windows) * masked.sampling_frequency * np.sum(taper**2))
    return psd, np.fft.rfftfreq(n_fft, 1.0 / masked.sampling_frequency)
