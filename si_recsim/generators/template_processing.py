"""Preparing selected templates for convolution: padding, resampling, sub-sample jitter, edge
tapering, and the time stretch used for bursting shape modulation.

Templates are (n_samples, n_channels) arrays in µV (with a leading jitter axis for the copies),
except :func:`stretch_template`, which works on the engine's (n_channels, n_samples) layout.
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


def jittered_copies(template: np.ndarray, shifts: np.ndarray, upsample: int) -> np.ndarray:
    """Copies of a template shifted by sub-sample amounts.

    The template is upsampled ``upsample`` times; each copy is shifted by a whole number of
    upsampled samples (``shifts``, zero-filled) and decimated back.

    Returns
    -------
    copies : np.ndarray
        (len(shifts), n_samples, n_channels).
    """
    from scipy.signal import resample_poly

    n_samples, n_jitters = template.shape[0], len(shifts)
    if upsample == 1:
        return np.repeat(template[None], n_jitters, axis=0)
    upsampled = resample_poly(template, upsample, 1, axis=0)
    copies = np.zeros((n_jitters,) + template.shape)
    for index, shift in enumerate(shifts):
        shifted = np.zeros_like(upsampled)
        if shift >= 0:
            shifted[shift:] = upsampled[: upsampled.shape[0] - shift]
        else:
            shifted[:shift] = upsampled[-shift:]
        copies[index] = shifted[::upsample][:n_samples]
    return copies


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


def stretch_positions(n_samples: int, nbefore: int, modulation: float, shape_stretch: float) -> np.ndarray:
    """Input sample positions that time-stretch a template around its trough.

    The time axis on each side of the trough is normalised to [-1, 1] and warped through
    ``tau(x) = artanh(x tanh(a)) / a`` with ``a = (1 - modulation) * shape_stretch / 4``: the ends stay
    in place, and the slope at the trough is ``tanh(a) / a < 1``, so the spike gets wider as the
    modulation falls. ``modulation >= 1`` (or ``shape_stretch = 0``) gives the identity.
    """
    samples = np.arange(n_samples, dtype=float)
    strength = (1.0 - modulation) * shape_stretch / 4.0
    if strength <= 0:
        return samples
    half = np.where(samples < nbefore, max(nbefore, 1), max(n_samples - 1 - nbefore, 1))
    x = (samples - nbefore) / half
    warped = np.arctanh(np.clip(x * np.tanh(strength), -1 + 1e-12, 1 - 1e-12)) / strength
    return nbefore + warped * half


def stretch_template(template: np.ndarray, nbefore: int, modulation: float, shape_stretch: float,
                     spline=None) -> np.ndarray:
    """Time-stretch a template (n_channels, n_samples) keeping its global negative peak.

    See :func:`stretch_positions` for the warp. Cubic-spline interpolation along time (``spline``: the template's precomputed
    ``CubicSpline``, to save rebuilding it per spike); the result is rescaled so that its global
    minimum equals the original's (the amplitude modulation is applied separately).
    """
    if modulation >= 1.0 or shape_stretch <= 0:
        return template
    positions = stretch_positions(template.shape[-1], nbefore, modulation, shape_stretch)
    if spline is None:
        from scipy.interpolate import CubicSpline

        spline = CubicSpline(np.arange(template.shape[-1]), template, axis=-1)
    stretched = spline(positions)
    minimum = stretched.min()
    if minimum < 0:
        stretched *= template.min() / minimum
    return stretched
