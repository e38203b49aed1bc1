"""Additive noise, defined sample by sample independently of how it is read.

White Gaussian noise is counter-based (:mod:`si_recsim.recording.gaussian`): sample ``(t, c)`` of
stream ``s`` is a fixed function of ``(noise seed, s, t, c)``, so any sample range, including the
margins before 0 and after the end that the filters need, is computed directly and no value depends
on the requested window. Buffers are (n_samples, n_channels), the recording's layout.

Noise modes (``noise_level`` is the standard deviation in µV before the recording filter, as in
MEArec):

* ``uncorrelated``: independent white noise per channel;
* ``distance-correlated``: white noise mixed across channels with the Cholesky factor of
  ``C_ij = 2 ** (-d_ij / noise_half_distance)`` (correlation 0.5 at the half distance); this
  exponential kernel is positive definite for any contact layout, so the covariance is always valid;
* either of the above with ``noise_color``: the white noise goes through a resonant peak filter
  (``color_peak``, ``color_q``), white noise of ``color_noise_floor`` times the coloured standard
  deviation is added, and the sum is scaled to ``noise_level`` (the scale is computed from the
  filter's power gain, so it does not depend on the data read);
* ``far-neurons``: background units (see :class:`FarNeurons`) plus a white floor, scaled per
  channel to ``noise_level`` using Campbell's theorem for the mean and variance of shot noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from si_recsim.errors import InputError
from si_recsim.recording.filtering import LinearFilter
from si_recsim.recording.gaussian import fill_normal_samples, stream_key

MAIN_STREAM, FLOOR_STREAM = 0, 1


class WhiteNoise:
    """Unit-variance Gaussian white noise, counter-based.

    Parameters
    ----------
    seed : int
        Noise seed.
    n_channels : int
    """

    def __init__(self, seed: int, n_channels: int):
        self.seed = int(seed)
        self.n_channels = n_channels
        self._keys = {stream: stream_key(self.seed, stream) for stream in (MAIN_STREAM, FLOOR_STREAM)}

    def fill(self, stream: int, start: int, out: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Write the white noise of samples ``[start, start + n)`` (may begin before 0) into ``out``
        (n, n_channels) float32; ``scale`` is the standard deviation."""
        return fill_normal_samples(self._keys[stream], start, out, scale)

    def get(self, stream: int, start: int, stop: int) -> np.ndarray:
        """White noise for samples ``[start, stop)`` (may extend before 0), (n, n_channels) float32."""
        return self.fill(stream, start, np.empty((stop - start, self.n_channels), dtype=np.float32))


def distance_correlation_factor(channel_locations: np.ndarray, half_distance: float) -> np.ndarray:
    """Lower Cholesky factor of the exponential correlation ``2 ** (-d / half_distance)``."""
    distances = np.linalg.norm(channel_locations[:, None, :] - channel_locations[None, :, :], axis=-1)
    correlation = np.power(2.0, -distances / half_distance)
    return np.linalg.cholesky(correlation).astype(np.float32)


_blas_controller = None


def mix_channels(values: np.ndarray, mixing: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Each row of ``values`` (n, n_channels) mixed by ``mixing``: ``values @ mixing.T``, BLAS held to one thread.

    A multithreaded BLAS may split the sums differently with the number of threads, changing the
    last bit; one thread keeps the order fixed, so the bytes do not depend on ``n_jobs`` or the
    thread settings of the process (SpikeInterface's workers run one BLAS thread each).
    """
    from threadpoolctl import ThreadpoolController

    global _blas_controller
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=1, user_api="blas"):
        return np.matmul(values, mixing.T, out=out)


@dataclass
class ColorSpec:
    """Noise colouring: resonant filter, its context margin and the scales of both components."""

    peak_filter: LinearFilter
    margin: int
    colored_scale: float
    floor_scale: float


class GaussianNoise:
    """``uncorrelated`` or ``distance-correlated`` noise, optionally coloured (see module notes)."""

    def __init__(self, white: WhiteNoise, level: float, mixing: np.ndarray | None, color: ColorSpec | None):
        self.white = white
        self.level = level
        self.mixing = mixing
        self.color = color

    def _correlated(self, stream: int, start: int, stop: int) -> np.ndarray:
        values = self.white.get(stream, start, stop)
        return mix_channels(values, self.mixing) if self.mixing is not None else values

    def fill(self, buffer: np.ndarray, start: int) -> None:
        """Write the noise of samples ``[start, start + n)`` into ``buffer`` (n, n_channels), µV."""
        stop = start + buffer.shape[0]
        if self.color is None:
            if self.mixing is None:
                self.white.fill(MAIN_STREAM, start, buffer, self.level)
            else:
                mix_channels(self.white.get(MAIN_STREAM, start, stop), self.mixing, out=buffer)
                buffer *= np.float32(self.level)
            return
        margin = self.color.margin
        extended = self._correlated(MAIN_STREAM, start - margin, stop + margin)
        self.color.peak_filter.apply(extended)
        np.multiply(extended[margin: margin + buffer.shape[0]], np.float32(self.color.colored_scale), out=buffer)
        buffer += self.white.fill(FLOOR_STREAM, start, extended[: buffer.shape[0]], self.color.floor_scale)


def make_color_spec(peak_filter: LinearFilter, level: float, floor: float) -> ColorSpec:
    """Scales so that coloured noise plus its white floor has standard deviation ``level``."""
    colored_std = level / np.sqrt(1.0 + floor**2)
    return ColorSpec(peak_filter=peak_filter, margin=peak_filter.margin(),
                     colored_scale=colored_std / np.sqrt(peak_filter.power_gain()), floor_scale=floor * colored_std)


class FarNeurons:
    """Background activity of many distant units, scaled to a target noise level.

    Parameters
    ----------
    injector : SpikeInjector
        Spikes and templates of the background units (no modulation).
    rates : np.ndarray
        Mean rate of each background unit, Hz.
    white : WhiteNoise
    level : float
        Target standard deviation per channel, µV.
    floor : float
        White noise added, as a fraction of the background's standard deviation.
    sampling_frequency : float
    n_channels : int

    Notes
    -----
    For spikes at rate ``r`` convolved with a template ``T``, Campbell's theorem gives the mean
    ``r / fs * sum(T)`` and the variance ``r / fs * sum(T ** 2)`` per channel. The background is
    centred with that mean and each channel is scaled so that background plus floor has standard
    deviation ``level``.
    """

    def __init__(self, injector, rates: np.ndarray, white: WhiteNoise, level: float, floor: float,
                 sampling_frequency: float, n_channels: int):
        mean, variance = np.zeros(n_channels), np.zeros(n_channels)
        for rate, template, channels in zip(rates, injector.templates, injector.channels):
            weight = rate / sampling_frequency
            mean[channels] += weight * template[0, 0].sum(axis=0)
            variance[channels] += weight * (template[0, 0].astype(float) ** 2).sum(axis=0)
        if np.any(variance <= 0):
            raise InputError("far-neurons noise: some channels get no background signal; use a larger far_neurons_n.")
        scale = level / np.sqrt(variance * (1.0 + floor**2))
        injector.scale_channels(scale)
        self.injector = injector
        self.offset = (-scale * mean).astype(np.float32)
        self.floor_scale = (scale * np.sqrt(variance) * floor).astype(np.float32)
        self.white = white

    def fill(self, buffer: np.ndarray, start: int) -> None:
        """Write the background of samples ``[start, start + n)`` into ``buffer`` (n, n_channels), µV."""
        self.white.fill(FLOOR_STREAM, start, buffer)
        buffer *= self.floor_scale
        buffer += self.offset
        self.injector.add_to(buffer, start)
