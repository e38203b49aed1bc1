"""Point-source and line-source potentials in an infinite homogeneous medium.

Units: positions and diameters in µm, conductivity σ in S/m, currents in nA. A current of
``I`` nA at distance ``r`` µm gives ``I / (4 π σ r)`` mV, so every matrix here is in **mV per nA**
(LFPy's convention). Multiply by 1e3 for µV (templates) or 1e-3 for V per nA (BlueRecording's
weights).

The line source spreads a segment's current uniformly along the segment from ``s`` to ``e``
(length ``L``, unit vector ``u``). For a contact at ``p``, with ``a = (p - s)·u`` the position along
the axis and ``r`` the distance from the axis,

    M = [asinh(a / r) - asinh((a - L) / r)] / (4 π σ L),

which is LFPy's and LFPykit's ``linesource`` (and equals the three-case logarithm of Holt and Koch
used by BlueRecording). ``r`` is raised to at least the segment radius (``min_distance``), as LFPy
does, so contacts on a segment axis give finite values; zero-length segments are point sources.
"""

from __future__ import annotations

import numpy as np

#: Factor of the method of images for contacts on an insulating plane (planar probes, MEArec's
#: ``mea`` type): an explicit option, never applied implicitly.
IMAGE_FACTOR_PLANAR = 2.0

_FOUR_PI = 4.0 * np.pi


def point_source_matrix(electrodes: np.ndarray, sources: np.ndarray, sigma: float = 0.3,
                        min_distance: float | np.ndarray = 0.0) -> np.ndarray:
    """Potential at each electrode of a unit current at each point source.

    Parameters
    ----------
    electrodes : np.ndarray
        (n_electrodes, 3) positions, µm.
    sources : np.ndarray
        (n_sources, 3) positions, µm.
    sigma : float, default: 0.3
        Conductivity, S/m.
    min_distance : float | np.ndarray, default: 0.0
        Distances are raised to at least this (µm), scalar or one value per source.

    Returns
    -------
    matrix : np.ndarray
        (n_electrodes, n_sources), mV per nA.
    """
    electrodes, sources = _positions(electrodes), _positions(sources)
    distance = np.linalg.norm(electrodes[:, None, :] - sources[None, :, :], axis=-1)
    distance = np.maximum(distance, np.broadcast_to(min_distance, (len(sources),))[None, :])
    with np.errstate(divide="ignore"):
        return 1.0 / (_FOUR_PI * sigma * distance)


def line_source_matrix(electrodes: np.ndarray, starts: np.ndarray, ends: np.ndarray, sigma: float = 0.3,
                       min_distance: float | np.ndarray = 0.0) -> np.ndarray:
    """Potential at each electrode of a unit current spread along each segment.

    Parameters
    ----------
    electrodes : np.ndarray
        (n_electrodes, 3) positions, µm.
    starts, ends : np.ndarray
        (n_segments, 3) segment end points, µm.
    sigma : float, default: 0.3
        Conductivity, S/m.
    min_distance : float | np.ndarray, default: 0.0
        Lower bound of the distance from the segment axis (µm), scalar or per segment; LFPy uses
        the segment radius.

    Returns
    -------
    matrix : np.ndarray
        (n_electrodes, n_segments), mV per nA.
    """
    electrodes, starts, ends = _positions(electrodes), _positions(starts), _positions(ends)
    axis = ends - starts
    length = np.linalg.norm(axis, axis=1)
    is_point = length == 0
    unit = np.divide(axis, length[:, None], out=np.zeros_like(axis), where=~is_point[:, None])
    relative = electrodes[:, None, :] - starts[None, :, :]  # (n_electrodes, n_segments, 3)
    along = np.einsum("ijk,jk->ij", relative, unit)
    squared = np.einsum("ijk,ijk->ij", relative, relative)
    floor = np.broadcast_to(np.asarray(min_distance, dtype=float), (len(starts),))[None, :]
    radial = np.sqrt(np.maximum(squared - along**2, floor**2))
    matrix = np.empty_like(along)
    lines = ~is_point
    if np.any(lines):
        matrix[:, lines] = _asinh_difference(along[:, lines], along[:, lines] - length[None, lines],
                                             radial[:, lines]) / (_FOUR_PI * sigma * length[None, lines])
    if np.any(is_point):
        matrix[:, is_point] = point_source_matrix(electrodes, starts[is_point], sigma, floor[0, is_point])
    return matrix


def segment_matrix(electrodes: np.ndarray, starts: np.ndarray, ends: np.ndarray, diameters: np.ndarray,
                   sigma: float = 0.3, method: str = "linesource", point_sources: np.ndarray | None = None,
                   image_factor: float = 1.0) -> np.ndarray:
    """Transfer matrix of a cell's segments, as template generation and weights use it.

    Parameters
    ----------
    electrodes : np.ndarray
        (n_electrodes, 3), µm.
    starts, ends : np.ndarray
        (n_segments, 3), µm.
    diameters : np.ndarray
        (n_segments,), µm; half of it is the minimum distance to a segment.
    sigma : float, default: 0.3
        S/m.
    method : "linesource" | "pointsource", default: "linesource"
        ``pointsource`` puts each segment's current at its midpoint.
    point_sources : np.ndarray | None, default: None
        Boolean (n_segments,): segments treated as point sources at their midpoint whatever the
        method (e.g. somatic segments).
    image_factor : float, default: 1.0
        Multiplier, e.g. :data:`IMAGE_FACTOR_PLANAR` for contacts on an insulating plane.

    Returns
    -------
    matrix : np.ndarray
        (n_electrodes, n_segments), mV per nA.
    """
    if method not in ("linesource", "pointsource"):
        raise ValueError(f"method must be 'linesource' or 'pointsource', got {method!r}.")
    starts, ends = _positions(starts), _positions(ends)
    radius = np.asarray(diameters, dtype=float) / 2.0
    midpoints = (starts + ends) / 2.0
    as_points = np.ones(len(starts), dtype=bool) if method == "pointsource" else np.zeros(len(starts), dtype=bool)
    if point_sources is not None:
        as_points |= np.asarray(point_sources, dtype=bool)
    matrix = np.empty((len(_positions(electrodes)), len(starts)))
    if np.any(as_points):
        matrix[:, as_points] = point_source_matrix(electrodes, midpoints[as_points], sigma, radius[as_points])
    if np.any(~as_points):
        matrix[:, ~as_points] = line_source_matrix(electrodes, starts[~as_points], ends[~as_points], sigma,
                                                   radius[~as_points])
    return matrix * image_factor


def _asinh_difference(upper: np.ndarray, lower: np.ndarray, radial: np.ndarray) -> np.ndarray:
    """``asinh(upper / radial) - asinh(lower / radial)`` (upper >= lower) without cancellation.

    Beyond either end of the segment both arguments have the same sign and the difference is
    written as one logarithm of a ratio of positive numbers; beside the segment it is a sum.
    """
    result = np.empty_like(upper)
    beyond_end = lower >= 0
    before_start = upper <= 0
    beside = ~(beyond_end | before_start)
    u, l, r = upper[beyond_end], lower[beyond_end], radial[beyond_end]
    result[beyond_end] = np.log((u + np.hypot(u, r)) / (l + np.hypot(l, r)))
    u, l, r = upper[before_start], lower[before_start], radial[before_start]
    result[before_start] = np.log((-l + np.hypot(l, r)) / (-u + np.hypot(u, r)))
    u, l, r = upper[beside], lower[beside], radial[beside]
    result[beside] = np.arcsinh(u / r) + np.arcsinh(-l / r)
    return result


def _positions(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ValueError(f"Positions must be an (n, 3) array in um, got shape {values.shape}.")
    return values
