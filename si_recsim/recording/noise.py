"""Additive noise, defined sample by sample independently of how it is read.

White Gaussian noise lives on the recording's fixed block grid: block ``k`` (``block_size``
samples) is split into a head (``margin`` samples), a body and a tail, each drawn from its own
generator seeded by ``(noise seed, stream, k, part)``. Any sample range is assembled from those
parts, so a block can be extended by ``margin`` samples on each side at the cost of two short
parts, and no value depends on the requested window.

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
import scipy.fft

from si_recsim.errors import InputError
from si_recsim.recording.filtering import LinearFilter
from si_recsim.recording.gaussian import fill_standard_normal

# block indices may be -1 for the margin before the first block; seeds need non-negative keys
_BLOCK_KEY_OFFSET = 1 << 20
MAIN_STREAM, FLOOR_STREAM = 0, 1


class WhiteNoise:
    """Unit-variance Gaussian white noise on a fixed block grid.

    Parameters
    ----------
    seed : int
        Noise seed.
    n_channels : int
    block_size : int
        Samples per block.
    margin : int
        Head and tail length of every block (``2 * margin <= block_size``).
    """

    def __init__(self, seed: int, n_channels: int, block_size: int, margin: int):
        if 2 * margin > block_size:
            raise InputError(
                f"The filters need {margin} samples of context but blocks have {block_size}: raise "
                "recordings.block_duration."
            )
        self.seed = int(seed)
        self.n_channels = n_channels
        self.block_size = block_size
        bounds = [0, margin, block_size - margin, block_size] if margin else [0, block_size]
        self.part_bounds = np.array(sorted(set(bounds)))

    def _draw_part(self, stream: int, block: int, part: int, out: np.ndarray, scale: float) -> None:
        """Draw one part into ``out`` (n_channels, part length), standard deviation ``scale``."""
        sequence = np.random.SeedSequence(self.seed, spawn_key=(stream, block + _BLOCK_KEY_OFFSET, part))
        fill_standard_normal(np.random.SFC64(sequence), out, scale)

    def fill(self, stream: int, start: int, out: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Write the white noise of samples ``[start, start + n)`` (may begin before 0) into ``out``.

        ``out`` is a (n_channels, n) float32 array; parts lying wholly inside it are drawn in place.
        ``scale`` is the standard deviation.
        """
        stop = start + out.shape[1]
        for block in range(start // self.block_size, (stop - 1) // self.block_size + 1):
            block_start = block * self.block_size
            for part in range(len(self.part_bounds) - 1):
                part_start = block_start + self.part_bounds[part]
                part_stop = block_start + self.part_bounds[part + 1]
                low, high = max(part_start, start), min(part_stop, stop)
                if low >= high:
                    continue
                if (low, high) == (part_start, part_stop):
                    self._draw_part(stream, block, part, out[:, low - start: high - start], scale)
                else:
                    values = np.empty((self.n_channels, part_stop - part_start), dtype=np.float32)
                    self._draw_part(stream, block, part, values, scale)
                    out[:, low - start: high - start] = values[:, low - part_start: high - part_start]
        return out

    def get(self, stream: int, start: int, stop: int) -> np.ndarray:
        """White noise for samples ``[start, stop)`` (may extend before 0), (n_channels, n) float32."""
        return self.fill(stream, start, np.empty((self.n_channels, stop - start), dtype=np.float32))


def apply_response(signal: np.ndarray, response: np.ndarray, n_fft: int) -> np.ndarray:
    """Multiply ``signal`` (channels, n) by a frequency response along time; same length out."""
    spectrum = scipy.fft.rfft(signal, n=n_fft, axis=1)
    spectrum *= response
    return scipy.fft.irfft(spectrum, n=n_fft, axis=1)[:, : signal.shape[1]].astype(np.float32, copy=False)


def distance_correlation_factor(channel_locations: np.ndarray, half_distance: float) -> np.ndarray:
    """Lower Cholesky factor of the exponential correlation ``2 ** (-d / half_distance)``."""
    distances = np.linalg.norm(channel_locations[:, None, :] - channel_locations[None, :, :], axis=-1)
    correlation = np.power(2.0, -distances / half_distance)
    return np.linalg.cholesky(correlation).astype(np.float32)


_blas_controller = None


def mix_channels(mixing: np.ndarray, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``mixing @ values`` with BLAS held to one thread.

    A multithreaded BLAS may split the sums differently with the number of threads, changing the
    last bit; one thread keeps the order fixed, so the bytes do not depend on ``n_jobs`` or the
    thread settings of the process (SpikeInterface's workers run one BLAS thread each).
    """
    from threadpoolctl import ThreadpoolController

    global _blas_controller
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=1, user_api="blas"):
        return np.matmul(mixing, values, out=out)


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
        return mix_channels(self.mixing, values) if self.mixing is not None else values

    def fill(self, buffer: np.ndarray, start: int) -> None:
        """Write the noise of samples ``[start, start + n)`` into ``buffer`` (n_channels, n), µV."""
        stop = start + buffer.shape[1]
        if self.color is None:
            if self.mixing is None:
                self.white.fill(MAIN_STREAM, start, buffer, self.level)
            else:
                mix_channels(self.mixing, self.white.get(MAIN_STREAM, start, stop), out=buffer)
                buffer *= np.float32(self.level)
            return
        margin = self.color.margin
        extended = self._correlated(MAIN_STREAM, start - margin, stop + margin)
        n_fft = scipy.fft.next_fast_len(extended.shape[1] + margin)
        colored = apply_response(extended, self.color.peak_filter.response(n_fft), n_fft)
        np.multiply(colored[:, margin: margin + buffer.shape[1]], np.float32(self.color.colored_scale), out=buffer)
        buffer += np.float32(self.color.floor_scale) * self.white.get(FLOOR_STREAM, start, stop)


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
            mean[channels] += weight * template[0, 0].sum(axis=1)
            variance[channels] += weight * (template[0, 0].astype(float) ** 2).sum(axis=1)
        if np.any(variance <= 0):
            raise InputError("far-neurons noise: some channels get no background signal; use a larger far_neurons_n.")
        scale = level / np.sqrt(variance * (1.0 + floor**2))
        injector.templates = [(template * scale[channels, None]).astype(np.float32)
                              for template, channels in zip(injector.templates, injector.channels)]
        self.injector = injector
        self.offset = (-scale * mean).astype(np.float32)[:, None]
        self.floor_scale = (scale * np.sqrt(variance) * floor).astype(np.float32)[:, None]
        self.white = white

    def fill(self, buffer: np.ndarray, start: int) -> None:
        """Write the background of samples ``[start, start + n)`` into ``buffer`` (n_channels, n), µV."""
        self.white.fill(FLOOR_STREAM, start, buffer)
        buffer *= self.floor_scale
        buffer += self.offset
        self.injector.add_to(buffer, start)
