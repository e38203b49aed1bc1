import numpy as np
import pytest

from si_recsim.physics import IMAGE_FACTOR_PLANAR, line_source_matrix, point_source_matrix, segment_matrix


def _random_cell(rng, n_segments=300):
    starts = rng.uniform(-200, 200, (n_segments, 3))
    ends = starts + rng.normal(0, 15, (n_segments, 3))
    diameters = rng.uniform(0.5, 4, n_segments)
    return starts, ends, diameters


def _electrodes(rng, starts, ends):
    random = rng.uniform(-300, 300, (40, 3))
    # hard cases: on a segment axis, beside it, and far away
    on_axis = starts[:5] + 1.7 * (ends[:5] - starts[:5])
    beside = (starts[5:10] + ends[5:10]) / 2 + np.array([0.3, 0.0, 0.0])
    far = np.array([[5000.0, 0.0, 0.0], [0.0, -8000.0, 3000.0]])
    return np.concatenate([random, on_axis, beside, far])


def _lfpykit_cell(lfpykit, starts, ends, diameters):
    return lfpykit.CellGeometry(x=np.column_stack([starts[:, 0], ends[:, 0]]),
                                y=np.column_stack([starts[:, 1], ends[:, 1]]),
                                z=np.column_stack([starts[:, 2], ends[:, 2]]), d=diameters)


@pytest.mark.parametrize("reference_class, method, seed", [("LineSourcePotential", "linesource", 0),
                                                           ("PointSourcePotential", "pointsource", 1)])
def test_transfer_matrices_equal_lfpykit(reference_class, method, seed):
    lfpykit = pytest.importorskip("lfpykit")
    rng = np.random.default_rng(seed)
    starts, ends, diameters = _random_cell(rng)
    electrodes = _electrodes(rng, starts, ends)
    cell = _lfpykit_cell(lfpykit, starts, ends, diameters)
    reference = getattr(lfpykit, reference_class)(cell, *electrodes.T, sigma=0.3).get_transformation_matrix()
    ours = segment_matrix(electrodes, starts, ends, diameters, 0.3, method=method)
    assert np.allclose(ours, reference, rtol=1e-6, atol=0)


def test_units_and_limits():
    # 1 nA at 1 um in sigma = 1 S/m: 1 / (4 pi) mV (BlueRecording's 7.96e-5 V/nA)
    value = point_source_matrix(np.zeros((1, 3)), np.array([[1.0, 0, 0]]), sigma=1.0)[0, 0]
    assert value == pytest.approx(1 / (4 * np.pi)) and value * 1e-3 == pytest.approx(7.96e-5, rel=1e-3)
    # far from a short segment the line source is the point source at its middle
    electrode = np.array([[3000.0, 100.0, -50.0]])
    start, end = np.array([[0.0, 0, 0]]), np.array([[10.0, 5, 0]])
    line = line_source_matrix(electrode, start, end)[0, 0]
    point = point_source_matrix(electrode, (start + end) / 2)[0, 0]
    assert line == pytest.approx(point, rel=1e-5)
    # zero-length segments and contacts on the axis stay finite
    assert np.isfinite(line_source_matrix(np.array([[0.0, 0, 5]]), np.zeros((1, 3)), np.array([[0.0, 0, 10]]),
                                          min_distance=0.5)).all()
    assert line_source_matrix(electrode, start, start)[0, 0] == pytest.approx(
        point_source_matrix(electrode, start)[0, 0])


def test_somatic_point_sources_and_image_factor():
    rng = np.random.default_rng(2)
    starts, ends, diameters = _random_cell(rng, 20)
    electrodes = rng.uniform(-100, 100, (4, 3))
    soma = np.zeros(20, dtype=bool)
    soma[0] = True
    matrix = segment_matrix(electrodes, starts, ends, diameters, point_sources=soma)
    assert np.allclose(matrix[:, 0], point_source_matrix(electrodes, ((starts + ends) / 2)[:1], 0.3,
                                                         diameters[:1] / 2)[:, 0])
    assert np.allclose(matrix[:, 1:], line_source_matrix(electrodes, starts[1:], ends[1:], 0.3, diameters[1:] / 2))
    doubled = segment_matrix(electrodes, starts, ends, diameters, point_sources=soma,
                             image_factor=IMAGE_FACTOR_PLANAR)
    assert np.allclose(doubled, 2 * matrix)
    with pytest.raises(ValueError, match="method"):
        segment_matrix(electrodes, starts, ends, diameters, method="fem")


def test_per_electrode_conductivity_and_output_rows():
    rng = np.random.default_rng(3)
    electrodes = rng.uniform(-50, 50, (7, 3))
    starts = rng.uniform(-100, 100, (30, 3))
    ends = starts + rng.normal(0, 10, (30, 3))
    ends[4] = starts[4]  # a zero-length segment is a point source
    sigma = rng.uniform(0.1, 1.0, 7)
    expected = np.column_stack([line_source_matrix(electrodes[[index]], starts, ends, sigma[index], 0.5)[0]
                                for index in range(7)])
    assert np.allclose(line_source_matrix(electrodes, starts, ends, sigma, 0.5, segments_first=True), expected,
                       rtol=1e-13, atol=0)
    assert np.allclose(line_source_matrix(electrodes, starts, ends, sigma, 0.5), expected.T, rtol=1e-13, atol=0)
    larger = np.zeros((40, 7))
    line_source_matrix(electrodes, starts, ends, sigma, 0.5, segments_first=True, out=larger[5:35])
    assert np.allclose(larger[5:35], expected, rtol=1e-13, atol=0) and not larger[:5].any() and not larger[35:].any()
    with pytest.raises(ValueError, match="out must be"):
        line_source_matrix(electrodes, starts, ends, sigma, 0.5, segments_first=True, out=np.zeros((7, 30)))
    points = point_source_matrix(electrodes, starts, sigma, 0.5)
    assert np.allclose(points * sigma[:, None], point_source_matrix(electrodes, starts, 1.0, 0.5), rtol=1e-13, atol=0)
