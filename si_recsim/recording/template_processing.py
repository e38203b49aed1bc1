"""Preparing selected templates for convolution: padding, resampling, sub-sample jitter, edge
tapering, and the time stretch used for bursting shape modulation.

Templates are (n_samples, n_channels) arrays in µV (with leading drift-step and jitter axes for the
engine's copies).
"""

from __future__ import annotations

from math import gcd

import numpy as np


def pad_template(template: np.ndarray, pad_before: int, pad_after: int) -> np.ndarray:
    """Remove each channel's first value, add ``pad_before`` zeros and a linear ramp to zero.

    Parameters
    ----------
    template : np.ndarray
        (n_samples, n_channels).
    pad_before, pad_after : int
        Samples added before and after.

    Returns
    -------
    padded : np.ndarray
        (pad_before + n_samples + pad_after, n_channels); starts and ends at 0 on every channel.
    """
    shifted = template - template[:1]
    ramp = np.linspace(1.0, 0.0, pad_after + 1)[1:, None] * shifted[-1:]
    return np.concatenate([np.zeros((pad_before, template.shape[1])), shifted, ramp], axis=0)


def resample_template(template: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along time; the output has ``round(n * fs_out / fs_in)`` samples."""
    from scipy.signal import resample_poly

    if fs_in == fs_out:
        return template
    up, down = int(round(fs_out)), int(round(fs_in))
    divisor = gcd(up, down)
    resampled = resample_poly(template, up // divisor, down // divisor, axis=0)
    n_out = int(round(template.shape[0] * fs_out / fs_in))
    if resampled.shape[0] >= n_out:
        return resampled[:n_out]
    return np.concatenate([resampled, np.zeros((n_out - resampled.shape[0], template.shape[1]))])


def jitter_shifts(n_jitters: int, upsample: int, rng: np.random.Generator) -> np.ndarray:
    """Random sub-sample shifts, in upsampled samples, uniform in ``[-upsample / 2, upsample / 2)``."""
    return np.floor((rng.random(n_jitters) - 0.5) * upsample).astype(int)


def upsample_template(template: np.ndarray, upsample: int) -> np.ndarray:
    """Polyphase upsampling by ``upsample`` along time: (n_samples * upsample, n_channels)."""
    from scipy.signal import resample_poly

    return template if upsample == 1 else resample_poly(template, upsample, 1, axis=0)


def shifted_copies(upsampled: np.ndarray, shifts: np.ndarray, upsample: int, n_samples: int) -> np.ndarray:
    """Copies of a template shifted by sub-sample amounts, from its upsampled version.

    Each copy is the upsampled template shifted by a whole number of upsampled samples (``shifts``,
    zero-filled) and decimated back: ``copy[i] = upsampled[i * upsample - shift]``.

    Returns
    -------
    copies : np.ndarray
        (len(shifts), n_samples, n_channels).
    """
    positions = np.arange(n_samples)[None, :] * upsample - np.asarray(shifts, dtype=int)[:, None]
    inside = (positions >= 0) & (positions < upsampled.shape[0])
    return upsampled[np.clip(positions, 0, upsampled.shape[0] - 1)] * inside[..., None]


def taper_edges(template: np.ndarray, n_taper: int, strength: float) -> np.ndarray:
    """Multiply the first and last ``n_taper`` samples by a logistic ramp (0 → 1 and 1 → 0)."""
    if n_taper <= 0:
        return template
    x = np.arange(n_taper) - n_taper / 2
    ramp = 1.0 / (1.0 + np.exp(-strength * x))
    tapered = template.copy()
    tapered[..., :n_taper, :] *= ramp[:, None]
    tapered[..., -n_taper:, :] *= ramp[::-1, None]
    return tapered


def stretch_positions(n_samples: int, nbefore: int, modulations: np.ndarray, shape_stretch: float) -> np.ndarray:
    """Input sample positions that time-stretch a template around its trough, one row per modulation.

    The time axis on each side of the trough is normalised to [-1, 1] and warped through
    ``tau(x) = artanh(x tanh(a)) / a`` with ``a = (1 - modulation) * shape_stretch / 4``: the ends stay
    in place, and the slope at the trough is ``tanh(a) / a < 1``, so the spike gets wider as the
    modulation falls. ``modulation >= 1`` (or ``shape_stretch = 0``) gives the identity.

    Returns
    -------
    positions : np.ndarray
        (len(modulations), n_samples).
    """
    samples = np.arange(n_samples, dtype=float)
    strength = ((1.0 - np.asarray(modulations, dtype=float)) * shape_stretch / 4.0)[:, None]
    warps = strength > 0
    safe_strength = np.where(warps, strength, 1.0)
    half = np.where(samples < nbefore, max(nbefore, 1), max(n_samples - 1 - nbefore, 1))
    x = (samples - nbefore) / half
    warped = np.arctanh(np.clip(x * np.tanh(safe_strength), -1 + 1e-12, 1 - 1e-12)) / safe_strength
    return nbefore + np.where(warps, warped, x) * half


class TemplateStretcher:
    """Time-stretches copies of one unit's template, many spikes at once (bursting shape modulation).

    Each copy is interpolated by its cubic spline (not-a-knot) at the positions of
    :func:`stretch_positions`, and rescaled so that its global minimum equals the copy's (the
    amplitude modulation is applied separately).

    Parameters
    ----------
    templates : np.ndarray
        (n_drift_steps, n_jitters, n_samples, n_channels) copies.
    nbefore : int
        Sample of the trough.
    shape_stretch : float
        Stretch strength.
    """

    def __init__(self, templates: np.ndarray, nbefore: int, shape_stretch: float):
        from scipy.interpolate import CubicSpline

        n_steps, self.n_jitters, self.n_samples, n_channels = templates.shape
        copies = templates.reshape(n_steps * self.n_jitters, self.n_samples, n_channels)
        spline = CubicSpline(np.arange(self.n_samples), copies, axis=1)
        # (copies, intervals, power, channels): one gather per (spike, position) fetches a whole block
        self.coefficients = np.ascontiguousarray(spline.c.transpose(2, 1, 0, 3), dtype=np.float32)
        self.minima = copies.min(axis=(1, 2))
        self.nbefore = nbefore
        self.shape_stretch = shape_stretch

    def stretch(self, steps: np.ndarray, jitters: np.ndarray, modulations: np.ndarray) -> np.ndarray:
        """Stretched copies ``(steps[i], jitters[i])`` for modulations ``modulations[i]``: (n, n_samples, n_channels)."""
        copies = np.asarray(steps) * self.n_jitters + np.asarray(jitters)
        positions = stretch_positions(self.n_samples, self.nbefore, modulations, self.shape_stretch)
        intervals = np.clip(np.floor(positions).astype(np.intp), 0, self.n_samples - 2)
        offsets = (positions - intervals).astype(np.float32)
        powers = offsets[..., None] ** np.arange(3, -1, -1, dtype=np.float32)  # (n, n_samples, 4)
        coefficients = self.coefficients[copies[:, None], intervals]  # (n, n_samples, 4, n_channels)
        stretched = np.einsum("spk,spkc->spc", powers, coefficients)
        lows = stretched.min(axis=(1, 2))
        scales = np.where(lows < 0, self.minima[copies] / np.where(lows < 0, lows, 1.0), 1.0)
        return stretched * scales[:, None, None].astype(np.float32)
