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

from si_recsim.errors import InputError

#: Factor of the method of images for contacts on an insulating plane (planar probes, MEArec's
#: ``mea`` type): an explicit option, never applied implicitly.
IMAGE_FACTOR_PLANAR = 2.0

_FOUR_PI = 4.0 * np.pi
_TILE_ELEMENTS = 32768


def point_source_matrix(electrodes: np.ndarray, sources: np.ndarray, sigma: float | np.ndarray = 0.3,
                        min_distance: float | np.ndarray = 0.0) -> np.ndarray:
    """Potential at each electrode of a unit current at each point source.

    Parameters
    ----------
    electrodes : np.ndarray
        (n_electrodes, 3) positions, µm.
    sources : np.ndarray
        (n_sources, 3) positions, µm.
    sigma : float | np.ndarray, default: 0.3
        Conductivity, S/m, scalar or one value per electrode.
    min_distance : float | np.ndarray, default: 0.0
        Distances are raised to at least this (µm), scalar or one value per source.

    Returns
    -------
    matrix : np.ndarray
        (n_electrodes, n_sources), mV per nA.
    """
    electrodes, sources = _positions(electrodes), _positions(sources)
    squared = sum((electrodes[:, axis, None] - sources[None, :, axis]) ** 2 for axis in range(3))
    floor = np.broadcast_to(np.asarray(min_distance, dtype=float), (len(sources),))[None, :]
    conductivity = np.broadcast_to(np.asarray(sigma, dtype=float), (len(electrodes),))[:, None]
    with np.errstate(divide="ignore"):
        return 1.0 / (_FOUR_PI * conductivity * np.maximum(np.sqrt(squared), floor))


def line_source_matrix(electrodes: np.ndarray, starts: np.ndarray, ends: np.ndarray, sigma: float | np.ndarray = 0.3,
                       min_distance: float | np.ndarray = 0.0, floor_beside_only: bool = False,
                       segments_first: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """Potential at each electrode of a unit current spread along each segment.

    Parameters
    ----------
    electrodes : np.ndarray
        (n_electrodes, 3) positions, µm.
    starts, ends : np.ndarray
        (n_segments, 3) segment end points, µm.
    sigma : float | np.ndarray, default: 0.3
        Conductivity, S/m, scalar or one value per electrode.
    min_distance : float | np.ndarray, default: 0.0
        Lower bound of the distance from the segment axis (µm), scalar or per segment; LFPy uses
        the segment radius.
    floor_beside_only : bool, default: False
        Apply ``min_distance`` only where the contact projects onto the segment (where the exact
        value diverges), not on the axis beyond its ends, where it is finite; BlueRecording's
        values there are then reproduced exactly. LFPy floors everywhere (False).
    segments_first : bool, default: False
        Return (n_segments, n_electrodes), the layout of electrodes files, in which tiles are
        computed and land without transposition.
    out : np.ndarray | None
        Array of the result's shape (float64, C-contiguous) to write into, e.g. rows of a larger
        matrix, instead of a new one.

    Returns
    -------
    matrix : np.ndarray
        (n_electrodes, n_segments), mV per nA (transposed with ``segments_first``).
    """
    electrodes, starts, ends = _positions(electrodes), _positions(starts), _positions(ends)
    axis = ends - starts
    length = np.linalg.norm(axis, axis=1)
    is_point = length == 0
    unit = np.divide(axis, length[:, None], out=np.zeros_like(axis), where=~is_point[:, None])
    electrodes_by_axis = np.ascontiguousarray(electrodes.T)
    floor_squared = np.broadcast_to(np.asarray(min_distance, dtype=float), (len(starts),)) ** 2
    segment_scale = 1.0 / np.where(is_point, 1.0, length)
    electrode_scale = 1.0 / (_FOUR_PI * np.broadcast_to(np.asarray(sigma, dtype=float), (len(electrodes),)))
    shape = (len(starts), len(electrodes)) if segments_first else (len(electrodes), len(starts))
    if out is None:
        matrix = np.empty(shape)
    elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise InputError(f"out must be a C-contiguous float64 array of shape {shape}, got {out.dtype} {out.shape}.")
    else:
        matrix = out
    # cache-sized tiles of (segments, electrodes): every temporary stays in the CPU cache, several
    # times faster than whole arrays
    columns = min(len(electrodes), _TILE_ELEMENTS)
    rows = max(1, _TILE_ELEMENTS // max(columns, 1))
    for column in range(0, len(electrodes), columns):
        contacts = slice(column, column + columns)
        for row in range(0, len(starts), rows):
            part = slice(row, row + rows)
            tile = _line_source_tile(electrodes_by_axis[:, contacts], starts[part], unit[part], length[part, None],
                                     floor_squared[part, None], floor_beside_only)
            tile *= segment_scale[part, None]
            if segments_first:
                np.multiply(tile, electrode_scale[contacts], out=matrix[part, contacts])
            else:
                tile *= electrode_scale[contacts]
                matrix[contacts, part] = tile.T
    if np.any(is_point):
        points = point_source_matrix(electrodes, starts[is_point], sigma, np.sqrt(floor_squared[is_point]))
        if segments_first:
            matrix[is_point] = points.T
        else:
            matrix[:, is_point] = points
    return matrix


def segment_matrix(electrodes: np.ndarray, starts: np.ndarray, ends: np.ndarray, diameters: np.ndarray,
                   sigma: float = 0.3, method: str = "linesource", point_sources: np.ndarray | None = None,
                   image_factor: float = 1.0, point_positions: np.ndarray | None = None) -> np.ndarray:
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
    point_positions : np.ndarray | None, default: None
        (n_segments, 3) µm where point sources sit (default: the midpoints); see
        :func:`si_recsim.physics.segments.point_source_positions` for the soma-as-point convention.

    Returns
    -------
    matrix : np.ndarray
        (n_electrodes, n_segments), mV per nA.
    """
    if method not in ("linesource", "pointsource"):
        raise InputError(f"method must be 'linesource' or 'pointsource', got {method!r}.")
    starts, ends = _positions(starts), _positions(ends)
    radius = np.asarray(diameters, dtype=float) / 2.0
    midpoints = (starts + ends) / 2.0 if point_positions is None else _positions(point_positions)
    as_points = np.ones(len(starts), dtype=bool) if method == "pointsource" else np.zeros(len(starts), dtype=bool)
    if point_sources is not None:
        as_points |= np.asarray(point_sources, dtype=bool)
    if np.all(as_points):
        matrix = point_source_matrix(electrodes, midpoints, sigma, radius)
    else:
        matrix = line_source_matrix(electrodes, starts, ends, sigma, radius)
        if np.any(as_points):
            matrix[:, as_points] = point_source_matrix(electrodes, midpoints[as_points], sigma, radius[as_points])
    if image_factor != 1.0:
        matrix *= image_factor
    return matrix


def _line_source_tile(electrodes_by_axis: np.ndarray, starts: np.ndarray, unit: np.ndarray, length: np.ndarray,
                      floor_squared: np.ndarray, floor_beside_only: bool) -> np.ndarray:
    """4 pi sigma L times the potential, (segments, electrodes), of one cache-sized tile (in-place arithmetic)."""
    relative = [electrodes_by_axis[axis_index] - starts[:, axis_index, None] for axis_index in range(3)]
    along = relative[0] * unit[:, 0, None]
    along += relative[1] * unit[:, 1, None]
    along += relative[2] * unit[:, 2, None]
    radial_squared = relative[0]
    for component in relative:
        component *= component
    radial_squared += relative[1]
    radial_squared += relative[2]
    radial_squared -= along * along
    floor = np.where((along >= 0) & (along <= length), floor_squared, 0.0) if floor_beside_only else floor_squared
    np.maximum(radial_squared, floor, out=radial_squared)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _log_ratio(along, along - length, radial_squared)


def _log_ratio(upper: np.ndarray, lower: np.ndarray, radial_squared: np.ndarray) -> np.ndarray:
    """``asinh(upper / r) - asinh(lower / r)`` for ``upper >= lower``, without cancellation.

    With ``a = sqrt(upper^2 + r^2) + |upper|`` and ``b = sqrt(lower^2 + r^2) + |lower|`` (sums of
    non-negative terms, so never cancelling), ``asinh(x / r) = sign(x) (log(sqrt(x^2 + r^2) + |x|)
    - log r)`` makes the difference ``log(a b / r^2)`` beside the segment (``lower <= 0 <= upper``),
    ``log(a / b)`` beyond its end (``lower > 0``) and ``log(b / a)`` before its start
    (``upper < 0``): one logarithm per pair. ``r`` may be 0 off the segment (a contact on its axis).
    """
    a = np.sqrt(upper * upper + radial_squared)
    a += np.abs(upper)
    b = np.sqrt(lower * lower + radial_squared)
    b += np.abs(lower)
    after, before = lower > 0, upper < 0
    numerator = np.where(after, a, np.where(before, b, a * b))
    denominator = np.where(after, b, np.where(before, a, radial_squared))
    return np.log(numerator / denominator)


def _positions(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != 3:
        raise InputError(f"Positions must be an (n, 3) array in um, got shape {values.shape}.")
    return values
