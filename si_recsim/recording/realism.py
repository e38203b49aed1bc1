"""A realism scorecard: a recording (simulated) set beside a reference (a lab's data), feature by feature.

Both recordings are read over their first ``duration`` seconds in µV. For each, SpikeInterface's
peak detection (``by_channel``, ``detect_threshold`` MADs, both signs) finds the spikes; then:

* **noise spectrum**: the mean over channels of each channel's power spectrum (Welch, Hann windows)
  on the samples away from peaks (1 ms before, 2 ms after), compared as the RMS of
  ``log10(simulated / reference)`` over ``band`` Hz;
* **noise level**: each channel's MAD-based standard deviation, compared with a two-sample
  Kolmogorov–Smirnov statistic;
* **spatial correlation against distance**: noise correlation of channel pairs, averaged in 20 µm
  distance bins, compared as the mean absolute difference over the bins both have;
* **peak amplitudes** (absolute value at detection), **spike widths** (trough to the following
  peak on the detecting channel, ms) and **peak rates** (peaks per second per channel): KS statistics.

KS statistics are 0 for identical distributions and 1 for disjoint ones.
"""

from __future__ import annotations

import numpy as np

from si_recsim.recording.spike_free import channel_spectra, masked_traces

_DISTANCE_BIN_UM = 20.0


def recording_features(recording, duration: float = 30.0, detect_threshold: float = 5.0, n_fft: int = 1024) -> dict:
    """The features :func:`compare_recordings` compares, of one recording (first segment)."""
    masked = masked_traces(recording, duration, detect_threshold, min_samples=4 * n_fft)
    traces, keep, peaks, fs = masked.traces, masked.keep, masked.peaks, masked.sampling_frequency
    noise = traces[keep] - traces[keep].mean(axis=0)
    psd, frequencies = channel_spectra(masked, n_fft)
    locations = np.asarray(recording.get_channel_locations(), dtype=float)
    correlation = np.corrcoef(noise.T)
    distances = np.linalg.norm(locations[:, None] - locations[None], axis=2)
    upper = np.triu_indices(len(locations), k=1)
    bins = np.floor(distances[upper] / _DISTANCE_BIN_UM).astype(int)
    curve = {int(bin_): float(correlation[upper][bins == bin_].mean()) for bin_ in np.unique(bins)}
    rates = np.bincount(peaks["channel_index"], minlength=traces.shape[1]) / (len(traces) / fs)
    return dict(frequencies=frequencies, spectrum=psd.mean(axis=0), noise_levels=np.median(np.abs(noise), axis=0) / 0.6745,
                correlation_by_distance=curve, amplitudes=np.abs(peaks["amplitude"]),
                widths_ms=_widths_ms(traces, peaks, fs), peak_rates=rates, duration=len(traces) / fs,
                n_peaks=len(peaks))


def _widths_ms(traces: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Trough-to-peak time of negative peaks on their channel (the peak searched within 1.5 ms)."""
    window = int(round(1.5e-3 * fs))
    negative = peaks[peaks["amplitude"] < 0]
    widths = []
    for index, channel in zip(negative["sample_index"], negative["channel_index"]):
        after = traces[index: index + window, channel]
        if len(after) == window:
            widths.append(np.argmax(after) / fs * 1000.0)
    return np.asarray(widths)


def _ks(first: np.ndarray, second: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    if len(first) == 0 or len(second) == 0:
        return float("nan")
    return float(ks_2samp(first, second).statistic)


def compare_recordings(simulated, reference, duration: float = 30.0, band: tuple[float, float] = (300.0, 6000.0),
                       detect_threshold: float = 5.0) -> dict:
    """Distances between a recording and a reference, feature by feature (see module notes).

    Returns
    -------
    dict
        ``{"distances": {name: value}, "simulated": features, "reference": features}`` with the
        features of :func:`recording_features`.
    """
    ours = recording_features(simulated, duration, detect_threshold)
    theirs = recording_features(reference, duration, detect_threshold)
    grid = ours["frequencies"]
    inside = (grid >= band[0]) & (grid <= band[1])
    reference_spectrum = np.interp(grid, theirs["frequencies"], theirs["spectrum"])
    spectral = float(np.sqrt(np.mean(np.log10(ours["spectrum"][inside] / reference_spectrum[inside]) ** 2)))
    shared = sorted(set(ours["correlation_by_distance"]) & set(theirs["correlation_by_distance"]))
    correlation = float(np.mean([abs(ours["correlation_by_distance"][key] - theirs["correlation_by_distance"][key])
                                 for key in shared])) if shared else float("nan")
    distances = dict(spectrum_log10_rms=spectral, noise_level_ks=_ks(ours["noise_levels"], theirs["noise_levels"]),
                     correlation_by_distance_mean_abs=correlation,
                     amplitude_ks=_ks(ours["amplitudes"], theirs["amplitudes"]),
                     width_ks=_ks(ours["widths_ms"], theirs["widths_ms"]),
                     peak_rate_ks=_ks(ours["peak_rates"], theirs["peak_rates"]))
    return dict(distances=distances, simulated=ours, reference=theirs)


def format_scorecard(result: dict) -> str:
    """The comparison as text lines."""
    ours, theirs, distances = result["simulated"], result["reference"], result["distances"]
    lines = [f"{'feature':34s} {'simulated':>12s} {'reference':>12s}  distance"]
    rows = [("noise level, median (uV)", np.median(ours["noise_levels"]), np.median(theirs["noise_levels"]),
             "noise_level_ks"),
            ("peak amplitude, median (uV)", np.median(ours["amplitudes"]) if len(ours["amplitudes"]) else np.nan,
             np.median(theirs["amplitudes"]) if len(theirs["amplitudes"]) else np.nan, "amplitude_ks"),
            ("trough to peak, median (ms)", np.median(ours["widths_ms"]) if len(ours["widths_ms"]) else np.nan,
             np.median(theirs["widths_ms"]) if len(theirs["widths_ms"]) else np.nan, "width_ks"),
            ("peaks per s per channel, median", np.median(ours["peak_rates"]), np.median(theirs["peak_rates"]),
             "peak_rate_ks"),
            ("noise spectrum (log10 RMS ratio)", np.nan, np.nan, "spectrum_log10_rms"),
            ("noise correlation vs distance", np.nan, np.nan, "correlation_by_distance_mean_abs")]
    for label, mine, other, key in rows:
        lines.append(f"{label:34s} {mine:12.3g} {other:12.3g}  {distances[key]:.3f}")
    return "\n".join(lines)
