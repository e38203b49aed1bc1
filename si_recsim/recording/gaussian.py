"""Fast exact standard normal float32 samples from a numpy bit generator (Box–Muller transform).

Noise is the bulk of a recording's random draws, and numpy's float32 ziggurat costs ~8 ns a sample on
the reference machine. The Box–Muller transform maps two independent uniforms ``u1, u2`` to two
independent standard normals ``sqrt(-2 ln u1) cos(2 pi u2)`` and ``sqrt(-2 ln u1) sin(2 pi u2)``
*exactly* (not an approximation of the distribution), and with numpy's vectorised float32
``log``/``sqrt``/``sin``/``cos`` it costs ~3 ns a sample.

Uniforms are the 32-bit halves of the bit generator's raw 64-bit words, mapped to
``(k + 1/2) / 2**32`` in float32, so ``u1`` is never 0 and the largest normal magnitude is
``sqrt(2 ln 2**33) ≈ 6.8``. The values of an array are a fixed function of its shape and the bit
generator's state: the array is filled by column chunks of ``CHUNK`` samples and, inside a chunk,
row by row; each row of a chunk of width ``m`` takes ``ceil(m / 2)`` raw words, whose first halves
give the radii and second halves the angles, the cosines filling the row's first half and the sines
its second half.
"""

from __future__ import annotations

import numpy as np

CHUNK = 32768
_TO_UNIT = np.float32(2.0**-32)
_HALF_STEP = np.float32(2.0**-33)
_TWO_PI = np.float32(2.0 * np.pi)


def fill_standard_normal(bit_generator: np.random.BitGenerator, out: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Fill a 2-D float32 array (any strides) with independent normal samples of mean 0 and s.d. ``scale``.

    Parameters
    ----------
    bit_generator : numpy.random.BitGenerator
        Source of raw 64-bit words; it advances by ``ceil(m / 2)`` words per row and chunk.
    out : np.ndarray
        (rows, length) float32 array or view, overwritten.
    scale : float, default: 1.0
        Standard deviation (applied to the radii, saving a pass over ``out``).

    Returns
    -------
    np.ndarray
        ``out``.
    """
    rows, length = out.shape
    for column in range(0, length, CHUNK):
        width = min(CHUNK, length - column)
        rows_per_call = max(1, CHUNK // width)
        for row in range(0, rows, rows_per_call):
            _box_muller(bit_generator, out[row: row + rows_per_call, column: column + width], scale)
    return out


def _box_muller(bit_generator: np.random.BitGenerator, out: np.ndarray, scale: float) -> None:
    n_rows, width = out.shape
    half = (width + 1) // 2
    words = bit_generator.random_raw(n_rows * half).view(np.uint32).reshape(n_rows, 2 * half)
    uniforms = np.multiply(words, _TO_UNIT, dtype=np.float32)
    radius, angle = uniforms[:, :half], uniforms[:, half:]
    radius += _HALF_STEP
    np.log(radius, out=radius)
    radius *= np.float32(-2.0 * scale * scale)
    np.sqrt(radius, out=radius)
    angle *= _TWO_PI
    cosines = out[:, :half]
    np.cos(angle, out=cosines)
    cosines *= radius
    if width % 2:  # one sine too many: compute them aside
        np.sin(angle, out=angle)
        angle *= radius
        out[:, half:] = angle[:, : width - half]
    else:
        sines = out[:, half:]
        np.sin(angle, out=sines)
        sines *= radius
