"""Counter-based standard normal samples: each value is a fixed function of its key and index.

Noise and modulation draws are indexed, not streamed: the value at index ``i`` of the stream
``key`` is computed from ``(key, i)`` alone, so any window of samples, in any order, on any number of
workers, gets the same values without replaying a generator.

A 64-bit word per index comes from the SplitMix64 finaliser applied to ``key + i * φ`` (``φ`` the
64-bit golden-ratio constant; a Weyl sequence through an invertible mixing function, which passes
BigCrush); its high 32 bits ``h`` and low 32 bits ``l`` give the uniforms
``u1 = (h + 1/2) / 2**32`` (never 0, at most 1) and ``u2 = l / 2**32``. The Box–Muller transform
maps them to two independent standard normals ``r cos(2 pi u2)`` and ``r sin(2 pi u2)`` with
``r = sqrt(-2 ln u1)``, exactly (not an approximation of the distribution); the largest magnitude
is ``sqrt(2 ln 2**33) ≈ 6.8``. ``ln u1`` is numpy's float32 logarithm; the cosine and sine are
Taylor polynomials in double precision after reduction to ``[-pi/4, pi/4]`` (error below 1e-10),
compiled with numba, as is the mixing. Integer mixing, polynomials and the square root are exact
IEEE operations, so the values are the same on every CPU; only the float32 logarithm may differ by
an ulp between SIMD implementations.

Traces use one word for two consecutive samples of a channel: index ``floor(t / 2) * n_channels + c``
gives sample ``(t, c)`` its cosine (even ``t``) or sine (odd ``t``).
"""

from __future__ import annotations

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TILE_ELEMENTS = 1 << 15  # words per tile: the tile's temporaries stay in cache
_JIT = dict(nogil=True, cache=True, error_model="numpy", boundscheck=False)


def stream_key(seed: int, *path: int) -> int:
    """The 64-bit key of the stream ``path`` of ``seed`` (numpy's ``SeedSequence`` hashing)."""
    return int(np.random.SeedSequence(int(seed), spawn_key=tuple(int(part) for part in path))
               .generate_state(1, np.uint64)[0])


@numba.njit(**_JIT)
def _word(key: np.uint64, index: np.uint64) -> np.uint64:
    z = key + index * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(**_JIT)
def _radius_uniform(word):
    """``u1 = (h + 1/2) / 2**32`` in float32, ``h`` the high half of ``word`` (never 0)."""
    return np.float32(np.uint32(word >> np.uint64(32))) * np.float32(2.0**-32) + np.float32(2.0**-33)


@numba.njit(**_JIT)
def _words(key, first, n_rows, n_columns, words, u1):
    """Row ``p`` of (n_rows, n_columns) takes indices ``(first + p) * n_columns + c``; u1 in float32."""
    for p in range(n_rows):
        base = np.uint64((first + p) * n_columns)
        for c in range(n_columns):
            word = _word(np.uint64(key), base + np.uint64(c))
            words[p, c] = word
            u1[p, c] = _radius_uniform(word)


@numba.njit(**_JIT)
def _cos_sin(word):
    """cos and sin of ``2 pi l / 2**32`` (``l`` the low half of ``word``), double precision."""
    quarters = np.float64(np.uint32(word & np.uint64(0xFFFFFFFF))) * (4.0 / 2.0**32)
    quadrant = np.int64(quarters + 0.5)  # nearest quarter turn, 0..4
    f = (quarters - np.float64(quadrant)) * (np.pi / 2.0)  # in [-pi/4, pi/4]
    f2 = f * f
    sine = f * (1.0 + f2 * (-1.0 / 6 + f2 * (1.0 / 120 + f2 * (-1.0 / 5040 + f2 * (1.0 / 362880
                + f2 * (-1.0 / 39916800 + f2 * (1.0 / 6227020800)))))))
    cosine = 1.0 + f2 * (-0.5 + f2 * (1.0 / 24 + f2 * (-1.0 / 720 + f2 * (1.0 / 40320 + f2 * (-1.0 / 3628800
                + f2 * (1.0 / 479001600 + f2 * (-1.0 / 87178291200)))))))
    odd = (quadrant & 1) == 1  # a quarter turn swaps cosine and sine
    cos_sign = -1.0 if ((quadrant + 1) & 2) == 2 else 1.0
    sin_sign = -1.0 if (quadrant & 2) == 2 else 1.0
    return cos_sign * (sine if odd else cosine), sin_sign * (cosine if odd else sine)


@numba.njit(**_JIT)
def _pairs_to_samples(words, log_u1, scale, out, first_row, first_pair, spare):
    """Write pair ``p`` (row of ``words``) to sample rows ``2 (first_pair + p)`` and ``+ 1`` of ``out``
    (row 0 is sample ``first_row``), those inside ``out``; rows outside go to ``spare``."""
    n_pairs, n_columns = words.shape
    n_rows = out.shape[0]
    for p in range(n_pairs):
        even = 2 * (first_pair + p) - first_row
        cos_row = out[even] if even >= 0 else spare[0]
        sin_row = out[even + 1] if even + 1 < n_rows else spare[1]
        for c in range(n_columns):
            radius = np.sqrt(-2.0 * np.float64(log_u1[p, c])) * scale
            cos_value, sin_value = _cos_sin(words[p, c])
            cos_row[c] = np.float32(radius * cos_value)
            sin_row[c] = np.float32(radius * sin_value)


def fill_normal_samples(key: int, start: int, out: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Write the normal samples ``[start, start + n)`` of stream ``key`` into ``out`` (n, n_channels).

    Sample ``(t, c)`` depends only on ``key``, ``t``, ``c`` and ``n_channels`` (see module notes);
    ``start`` may be negative.

    Parameters
    ----------
    key : int
        Stream key (:func:`stream_key`).
    start : int
        Index of the first row.
    out : np.ndarray
        (n, n_channels) float32, C-contiguous; overwritten.
    scale : float, default: 1.0
        Standard deviation.

    Returns
    -------
    np.ndarray
        ``out``.
    """
    n_rows, n_columns = out.shape
    if n_rows == 0:
        return out
    first_pair, last_pair = start // 2, (start + n_rows - 1) // 2
    tile = max(1, _TILE_ELEMENTS // max(n_columns, 1))
    words = np.empty((min(tile, last_pair - first_pair + 1), n_columns), dtype=np.uint64)
    u1 = np.empty(words.shape, dtype=np.float32)
    spare = np.empty((2, n_columns), dtype=np.float32)
    key = np.uint64(key)
    for pair in range(first_pair, last_pair + 1, tile):
        count = min(tile, last_pair + 1 - pair)
        _words(key, pair, count, n_columns, words[:count], u1[:count])
        np.log(u1[:count], out=u1[:count])
        _pairs_to_samples(words[:count], u1[:count], float(scale), out, start, pair, spare)
    return out


def normal_values(key: int, indices: np.ndarray) -> np.ndarray:
    """One standard normal per index of stream ``key`` (the cosine of each index's word), float32."""
    indices = np.ascontiguousarray(indices, dtype=np.int64).reshape(1, -1)
    words = np.empty(indices.shape, dtype=np.uint64)
    u1 = np.empty(indices.shape, dtype=np.float32)
    _indexed_words(np.uint64(key), indices[0], words[0], u1[0])
    np.log(u1, out=u1)
    values = np.empty(indices.shape[1], dtype=np.float32)
    _cosines(words[0], u1[0], values)
    return values


@numba.njit(**_JIT)
def _indexed_words(key, indices, words, u1):
    for i in range(indices.size):
        word = _word(np.uint64(key), np.uint64(indices[i]))
        words[i] = word
        u1[i] = _radius_uniform(word)


@numba.njit(**_JIT)
def _cosines(words, log_u1, out):
    for i in range(words.size):
        cos_value, _ = _cos_sin(words[i])
        out[i] = np.float32(np.sqrt(-2.0 * np.float64(log_u1[i])) * cos_value)
