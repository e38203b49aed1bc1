import numpy as np
import pytest
import scipy.stats

from si_recsim.recording.gaussian import fill_normal_samples, normal_values, stream_key

KEY = stream_key(3, 0)


def _draw(shape, start=0, key=KEY, scale=1.0):
    return fill_normal_samples(key, start, np.empty(shape, dtype=np.float32), scale)


def _splitmix_reference(key: int, indices: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser of key + index * golden ratio, written out in numpy's uint64 arithmetic."""
    with np.errstate(over="ignore"):
        z = np.uint64(key) + indices.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def test_values_are_the_box_muller_transform_of_splitmix_words():
    n_rows, n_channels, start = 9, 5, -3
    values = _draw((n_rows, n_channels), start=start, scale=2.0)
    rows = np.arange(start, start + n_rows)
    indices = (rows[:, None] // 2) * n_channels + np.arange(n_channels)
    words = _splitmix_reference(KEY, indices)
    u1 = ((words >> np.uint64(32)).astype(np.float64) + 0.5) / 2**32
    u2 = (words & np.uint64(0xFFFFFFFF)).astype(np.float64) / 2**32
    radius = 2.0 * np.sqrt(-2.0 * np.log(u1))
    expected = np.where((rows % 2 == 0)[:, None], radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2))
    np.testing.assert_allclose(values, expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("shape", [(2_000_001, 1), (50_000, 40), (453, 3000)])
def test_samples_are_standard_normal(shape):
    values = _draw(shape).ravel().astype(np.float64)
    n = values.size
    assert abs(values.mean()) < 5 / np.sqrt(n)
    assert abs(values.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(scipy.stats.skew(values)) < 5 * np.sqrt(6 / n)
    assert abs(scipy.stats.kurtosis(values)) < 5 * np.sqrt(24 / n)
    assert scipy.stats.kstest(values, "norm").pvalue > 1e-4
    # tails: the fraction beyond 3 and 4 sigma
    for threshold in (3.0, 4.0):
        expected = 2 * scipy.stats.norm.sf(threshold)
        assert abs(np.mean(np.abs(values) > threshold) - expected) < 5 * np.sqrt(expected / n)


def test_neighbouring_samples_and_channels_are_uncorrelated():
    values = _draw((1000, 200)).astype(np.float64)
    cosines, sines = values[0::2].ravel(), values[1::2].ravel()  # the two halves of each word
    assert abs(np.corrcoef(cosines, sines)[0, 1]) < 5 / np.sqrt(cosines.size)
    assert abs(np.corrcoef(values[1:-1:2].ravel(), values[2::2].ravel())[0, 1]) < 5 / np.sqrt(cosines.size)
    assert abs(np.corrcoef(values[:, :-1].ravel(), values[:, 1:].ravel())[0, 1]) < 5 / np.sqrt(values.size)
    # nor are two streams
    other = _draw((1000, 200), key=stream_key(3, 1)).astype(np.float64)
    assert abs(np.corrcoef(values.ravel(), other.ravel())[0, 1]) < 5 / np.sqrt(values.size)


@pytest.mark.parametrize("start, length", [(0, 10), (-7, 3), (5, 1), (101, 20_000), (-1, 2)])
def test_any_window_gets_the_values_of_the_whole(start, length):
    whole = _draw((40_000, 7), start=-20)
    window = _draw((length, 7), start=start)
    np.testing.assert_array_equal(window, whole[start + 20: start + 20 + length])


def test_scale_is_the_standard_deviation():
    np.testing.assert_allclose(_draw((3001, 5), scale=3.0), 3.0 * _draw((3001, 5)), rtol=1e-6, atol=1e-6)


def test_indexed_values_are_the_cosines_of_their_words():
    values = _draw((6, 4))
    indices = np.arange(3)[:, None] * 4 + np.arange(4)  # pairs 0..2: rows 0, 2, 4
    np.testing.assert_array_equal(normal_values(KEY, indices.ravel()).reshape(3, 4), values[0::2])
    draws = normal_values(KEY, np.arange(-500_000, 500_000)).astype(np.float64)
    assert abs(draws.mean()) < 5e-3 and abs(draws.std() - 1) < 5e-3
