"""Linear time-invariant filters applied exactly on a fixed block grid.

A filter is used through its frequency response on an FFT grid, plus a *margin*: the number of
samples beyond which its impulse response is negligible (below ``tolerance`` times its peak).
Filtering a block with that margin of true signal on each side by FFT multiplication gives, inside
the block, the same values as filtering the whole infinite signal, up to that tolerance. Because
blocks sit on a fixed grid, the result never depends on how a caller chunks its reads.

``filtfilt`` mode uses the zero-phase response ``|H|^2`` (forward-backward); ``lfilter`` mode uses
the causal response ``H``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from si_recsim.errors import InputError

TOLERANCE = 1e-7


@dataclass(frozen=True)
class LinearFilter:
    """A digital filter in second-order sections, applied zero-phase or causally.

    Attributes
    ----------
    sos : np.ndarray
        Second-order sections (scipy layout).
    sampling_frequency : float
        Hz.
    zero_phase : bool
        True for forward-backward (``filtfilt``) filtering.
    """

    sos: np.ndarray
    sampling_frequency: float
    zero_phase: bool

    def response(self, n_fft: int) -> np.ndarray:
        """Complex frequency response on the ``rfft`` bins of an ``n_fft``-point transform."""
        import scipy.signal

        frequencies = np.fft.rfftfreq(n_fft, d=1.0 / self.sampling_frequency)
        _, response = scipy.signal.sosfreqz(self.sos, worN=frequencies, fs=self.sampling_frequency)
        return np.abs(response) ** 2 if self.zero_phase else response

    def impulse_response(self, n_samples: int) -> np.ndarray:
        """Impulse response on a periodic grid of ``n_samples`` (lag 0 at index 0, negative lags wrapped)."""
        return scipy.fft.irfft(self.response(n_samples), n_samples)

    def margin(self, tolerance: float = TOLERANCE) -> int:
        """Samples of context needed on each side of a block."""
        n_samples = 1 << 12
        while True:
            impulse = np.abs(self.impulse_response(n_samples))
            peak = impulse.max()
            half = n_samples // 2
            # lags beyond which every value is negligible, on both sides
            positive = np.flatnonzero(impulse[:half] > tolerance * peak)
            negative = np.flatnonzero(impulse[half:][::-1] > tolerance * peak)
            needed = max(positive.max(initial=0), negative.max(initial=0) + 1)
            if needed < half // 2:
                return int(needed) + 1
            n_samples *= 2

    def power_gain(self) -> float:
        """Output variance for unit-variance white input (Parseval on a fine grid)."""
        n_samples = 1 << 18
        impulse = self.impulse_response(n_samples)
        return float(np.sum(impulse**2))


def butterworth(cutoff, order: int, sampling_frequency: float, mode: str) -> LinearFilter:
    """The recording filter: Butterworth band-pass, or high-pass for a single cutoff.

    A band whose upper edge is at or above Nyquist becomes a high-pass at the lower edge.
    """
    import scipy.signal

    cutoffs = list(np.atleast_1d(cutoff).astype(float))
    nyquist = sampling_frequency / 2.0
    if len(cutoffs) == 2 and cutoffs[1] >= nyquist:
        cutoffs = cutoffs[:1]
    if cutoffs[0] >= nyquist:
        raise InputError(
            f"Filter cutoff {cutoffs[0]} Hz is not below the Nyquist frequency {nyquist} Hz: lower "
            "recordings.filter_cutoff or raise recordings.fs."
        )
    btype = "bandpass" if len(cutoffs) == 2 else "highpass"
    sos = scipy.signal.butter(order, cutoffs if len(cutoffs) == 2 else cutoffs[0], btype=btype,
                              fs=sampling_frequency, output="sos")
    return LinearFilter(sos=sos, sampling_frequency=sampling_frequency, zero_phase=(mode == "filtfilt"))


def resonant_peak(peak: float, quality: float, sampling_frequency: float) -> LinearFilter:
    """The noise colouring filter: a second-order resonant peak at ``peak`` Hz, applied zero-phase."""
    import scipy.signal

    if peak >= sampling_frequency / 2.0:
        raise InputError(
            f"recordings.color_peak ({peak} Hz) must be below the Nyquist frequency {sampling_frequency / 2} Hz."
        )
    b, a = scipy.signal.iirpeak(peak, quality, fs=sampling_frequency)
    return LinearFilter(sos=scipy.signal.tf2sos(b, a), sampling_frequency=sampling_frequency, zero_phase=True)
