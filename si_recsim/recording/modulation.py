"""Per-spike amplitude modulation: Gaussian factors, bursting decay and the bursting shape change.

Each spike's factor is ``burst_amplitude * (1 + sdrand * z)`` where ``z`` is standard normal:
one ``z`` per spike (``template`` mode) or one per spike and channel the unit is computed on
(``electrode`` mode); in ``none`` mode there is no Gaussian part. ``burst_amplitude`` is 1 for
non-bursting units.

The Gaussian parts are counter-based (:mod:`si_recsim.recording.gaussian`): spike ``s`` of a unit
takes the normal of index ``s`` (``template`` mode) or ``s * n_channels + channel`` (``electrode``
mode, per recording channel) of the stream ``(convolution seed, unit)``, so a spike's factor depends
only on the spike, never on the window that reads it. Bursting amplitudes depend
on the whole train and are computed once, so they stay aligned with their spikes everywhere (the
chunk-border misalignment of MEArec's bursting, reference notes 3.5, cannot happen).
"""

from __future__ import annotations

import numpy as np

from si_recsim.recording.gaussian import normal_values, stream_key

_MODULATION_STREAM = 1


def bursting_amplitudes(times_ms: np.ndarray, exp_decay: float, n_burst_spikes: int,
                        max_burst_duration: float) -> np.ndarray:
    """Amplitude factor of every spike of a bursting unit.

    A burst starts at a spike; the following spikes belong to it while they fall within
    ``max_burst_duration`` ms of its first spike and it has fewer than ``n_burst_spikes`` spikes.
    The first spike of a burst gets 1; the spike with ``c`` predecessors in its burst gets
    ``(mean_isi / c / max_burst_duration) ** exp_decay``, ``mean_isi`` being the mean of those ``c``
    intervals (ms). A 10 ms interval with ``exp_decay`` 0.2 gives about 0.63.

    Parameters
    ----------
    times_ms : np.ndarray
        Sorted spike times of one unit, ms.
    exp_decay : float
    n_burst_spikes : int
    max_burst_duration : float
        ms.

    Returns
    -------
    amplitudes : np.ndarray
        float32, one per spike, in (0, 1].
    """
    amplitudes = np.ones(times_ms.size, dtype=np.float32)
    burst_first = 0
    for index in range(1, times_ms.size):
        count = index - burst_first
        elapsed = times_ms[index] - times_ms[burst_first]
        if elapsed >= max_burst_duration or count >= n_burst_spikes:
            burst_first = index
            continue
        mean_isi = elapsed / count
        amplitudes[index] = min((mean_isi / count / max_burst_duration) ** exp_decay, 1.0)
    return amplitudes


class Modulation:
    """Amplitude factors of the spikes of all units.

    Parameters
    ----------
    mode : "none" | "template" | "electrode"
    sdrand : float
        Standard deviation of the Gaussian factor.
    seed : int
        Convolution seed.
    unit_channels : list of np.ndarray
        Per unit, the recording channels it is computed on.
    n_channels : int
        Channels of the recording.
    burst_amplitudes : list of np.ndarray | None
        Per unit, the bursting factor of each spike, or None for non-bursting units.
    """

    def __init__(self, mode: str, sdrand: float, seed: int, unit_channels: list, n_channels: int,
                 burst_amplitudes: list):
        self.mode = mode
        self.sdrand = float(sdrand)
        self.seed = int(seed)
        self.unit_channels = [np.asarray(channels, dtype=np.int64) for channels in unit_channels]
        self.n_channels = int(n_channels)
        self.burst_amplitudes = burst_amplitudes
        self._keys = [stream_key(self.seed, _MODULATION_STREAM, unit) for unit in range(len(unit_channels))]

    def _gaussian(self, unit: int, first: int, stop: int) -> np.ndarray:
        """Standard normal draws for spikes ``[first, stop)`` of ``unit``: (n, width)."""
        spikes = np.arange(first, stop, dtype=np.int64)[:, None]
        indices = spikes * self.n_channels + self.unit_channels[unit] if self.mode == "electrode" else spikes
        return normal_values(self._keys[unit], indices.ravel()).reshape(indices.shape)

    def factors(self, unit: int, first: int, stop: int) -> np.ndarray | None:
        """Factors of spikes ``[first, stop)`` of ``unit``: (n, n_unit_channels), (n, 1), or None for all ones."""
        burst = self.burst_amplitudes[unit]
        if self.mode == "none" or self.sdrand == 0:
            return None if burst is None else burst[first:stop, None]
        factors = 1.0 + self.sdrand * self._gaussian(unit, first, stop)
        if burst is not None:
            factors *= burst[first:stop, None]
        return factors
