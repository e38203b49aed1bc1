import numpy as np
import pytest
import scipy.stats

from si_recsim.recording.gaussian import CHUNK, fill_standard_normal


def _draw(shape, seed=0):
    return fill_standard_normal(np.random.SFC64(seed), np.empty(shape, dtype=np.float32))


@pytest.mark.parametrize("shape", [(1, 2_000_001), (40, 50_000), (3000, 453)])
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


def test_cosine_and_sine_halves_are_uncorrelated():
    values = _draw((200, 1000)).astype(np.float64)
    cosines, sines = values[:, :500].ravel(), values[:, 500:].ravel()
    assert abs(np.corrcoef(cosines, sines)[0, 1]) < 5 / np.sqrt(cosines.size)
    # nor are neighbouring samples or rows
    assert abs(np.corrcoef(values[:, :-1].ravel(), values[:, 1:].ravel())[0, 1]) < 5 / np.sqrt(values.size)
    assert abs(np.corrcoef(values[:-1].ravel(), values[1:].ravel())[0, 1]) < 5 / np.sqrt(values.size)


def test_values_depend_on_shape_and_state_only_not_on_memory_layout():
    shape = (7, 2 * CHUNK + 101)
    contiguous = _draw(shape, seed=3)
    wide = np.zeros((7, shape[1] + 50), dtype=np.float32)
    fill_standard_normal(np.random.SFC64(3), wide[:, 20: 20 + shape[1]])
    np.testing.assert_array_equal(wide[:, 20: 20 + shape[1]], contiguous)
    assert not wide[:, :20].any() and not wide[:, 20 + shape[1]:].any()
    assert not np.array_equal(_draw(shape, seed=4), contiguous)


def test_scale_is_the_standard_deviation():
    unit = _draw((5, 3001), seed=9)
    scaled = fill_standard_normal(np.random.SFC64(9), np.empty((5, 3001), dtype=np.float32), scale=3.0)
    np.testing.assert_allclose(scaled, 3.0 * unit, rtol=1e-5, atol=1e-6)
