"""Coefficients of compartments for each electrode (one column per electrode), BlueRecording's methods.

All somatic compartments of a cell sit at its soma centre. Analytic methods use the shared
volume-conductor code of :mod:`si_recsim.physics` (mV/nA), converted to the requested unit:

* ``PointSource``: each compartment's current at its midpoint (the chord midpoint of its two
  boundary points), ``1 / (4 pi sigma r)``;
* ``LineSource``: non-somatic compartments spread along their segment (somatic ones are points);
* ``ObjectiveCSD_Sphere``: 1 inside a sphere of ``radius`` (default 10 µm) around the electrode;
* ``ObjectiveCSD_Plane`` / ``ObjectiveCSD_Disk``: 1 inside a slab (and, for the disk, within
  ``radius``, default 500 µm) perpendicular to the electrode array's axis, the first principal
  component of the array's positions. The slab reaches ``thickness`` either side, or by default half
  the mean spacing of consecutive electrodes along the axis;
* ``Reciprocity``: the lead field's potential at the midpoint per unit applied current;
* ``DipoleReciprocity``: ``-((m - c) . E(c)) / I_applied`` with ``c`` the mean midpoint of the cell
  and positions in metres (the cell's dipole moment projected on the lead field at its centre);
* ``FourSphere`` (si_recsim): EEG through each cell's current dipole in LFPykit's four-sphere head
  model (:data:`FOUR_SPHERE_RADII`, :data:`FOUR_SPHERE_SIGMAS`), no finite-element export needed.

Contacts closer than ``min_distance`` to a segment (beside it) or to a point source are treated as
that far (BlueRecording returns infinities there): the segment radius when diameters are known,
else 1 µm. On a segment's axis beyond its ends the exact, finite value is kept.
"""

from __future__ import annotations

import numpy as np

from si_recsim.errors import InputError
from si_recsim.physics import line_source_matrix, point_source_matrix
from si_recsim.physics.segments import CellSegments
from si_recsim.sonata.electrodes import Electrode

UNITS = {"V/nA": 1e-3, "mV/nA": 1.0}
DEFAULT_MIN_DISTANCE = 1.0  # µm, when segment diameters are unknown
ANALYTIC = ("LineSource", "PointSource")
CSD = ("ObjectiveCSD_Sphere", "ObjectiveCSD_Disk", "ObjectiveCSD_Plane")


def csd_arrays(electrodes: list[Electrode], array_indices: list[str] | None = None) -> dict[int, np.ndarray]:
    """For each ObjectiveCSD electrode, the indices of the electrodes of its array.

    By default an array is every electrode of the same ObjectiveCSD type; ``array_indices`` ("a:b"
    half-open index ranges) defines arrays explicitly.
    """
    arrays: dict[int, np.ndarray] = {}
    if array_indices:
        for text in array_indices:
            start, stop = (int(value) for value in text.split(":"))
            members = np.arange(start, stop)
            for member in members:
                arrays[int(member)] = members
        return arrays
    for kind in CSD:
        members = np.array([index for index, electrode in enumerate(electrodes) if electrode.type == kind])
        for member in members:
            arrays[int(member)] = members
    return arrays


def _array_geometry(positions: np.ndarray) -> tuple[np.ndarray, float]:
    """Axis (first principal component) of an electrode array and half its mean spacing along it."""
    if len(positions) < 2:
        raise InputError("ObjectiveCSD_Plane and ObjectiveCSD_Disk electrodes need an array of at least two "
                         "electrodes (the array's axis defines their orientation).")
    centred = positions - positions.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    steps = np.abs(np.diff(positions @ axis))
    steps = steps[steps > 1e-3]
    return axis, (float(steps.mean()) / 2.0 if steps.size else 0.0)


#: Four-sphere head model (LFPykit's defaults): radii of brain, CSF, skull and scalp in µm and their
#: conductivities in S/m, centred at the origin of the circuit's coordinates.
FOUR_SPHERE_RADII = (79000.0, 80000.0, 85000.0, 90000.0)
FOUR_SPHERE_SIGMAS = (0.3, 1.5, 0.015, 0.3)


def _four_sphere(electrode: np.ndarray, midpoints: np.ndarray, name: str) -> np.ndarray:
    """mV per nA of each compartment at an EEG electrode, through the cell's current dipole.

    The cell's compartments form a current dipole at their mean position ``c``; a current ``i`` at
    ``m`` adds ``i (m - c)`` to it, and the potential of a dipole is linear in its moment, so the
    coefficient is ``(m - c) . V(c)`` with ``V`` the potentials of unit dipoles along x, y, z.
    """
    from lfpykit.eegmegcalc import FourSphereVolumeConductor

    centre = midpoints.mean(axis=0)
    if np.linalg.norm(centre) >= FOUR_SPHERE_RADII[0]:
        raise InputError(f"A cell at {centre} um lies outside the brain sphere of the four-sphere model (radius "
                         f"{FOUR_SPHERE_RADII[0]} um around the origin): place the circuit inside it.")
    model = FourSphereVolumeConductor(electrode, radii=list(FOUR_SPHERE_RADII), sigmas=list(FOUR_SPHERE_SIGMAS))
    unit_dipoles = model.get_dipole_potential(np.eye(3), centre)[0]
    return (midpoints - centre) @ unit_dipoles


ROWS_PER_CALL = 4096  # compartments per physics call: bounds the (electrodes x rows) temporaries


def cell_coefficients(cell: CellSegments, electrodes: list[Electrode], sigma: np.ndarray, units: str = "V/nA",
                      array_indices: list[str] | None = None, lead_fields: dict | None = None) -> np.ndarray:
    """Coefficients (n_compartments, n_electrodes) of one cell, rows in ``cell``'s order.

    See :func:`batch_coefficients`.
    """
    return batch_coefficients([cell], electrodes, sigma, units, array_indices, lead_fields)


def batch_coefficients(cells: list[CellSegments], electrodes: list[Electrode], sigma: np.ndarray,
                       units: str = "V/nA", array_indices: list[str] | None = None,
                       lead_fields: dict | None = None) -> np.ndarray:
    """Coefficients (n_compartments, n_electrodes) of cells, rows cell after cell in each cell's order.

    Parameters
    ----------
    cells : list of CellSegments
    electrodes : list of Electrode
    sigma : np.ndarray
        Conductivity per electrode, S/m.
    units : "V/nA" | "mV/nA", default: "V/nA"
        Of analytic coefficients (BlueRecording writes V/nA).
    array_indices : list of str | None
        ObjectiveCSD arrays ("a:b" electrode index ranges).
    lead_fields : dict | None
        Electrode index → :class:`~si_recsim.sonata.lead_field.LeadField` for Reciprocity and
        DipoleReciprocity electrodes.
    """
    if units not in UNITS:
        raise InputError(f"units must be one of {list(UNITS)}, got {units!r}.")
    somatic = np.concatenate([cell.somatic for cell in cells])
    starts = np.concatenate([cell.starts for cell in cells])
    ends = np.concatenate([cell.ends for cell in cells])
    midpoints = np.concatenate([cell.point_positions() for cell in cells])
    floor = np.concatenate([cell.diameters / 2.0 if cell.diameters is not None
                            else np.full(len(cell.starts), DEFAULT_MIN_DISTANCE) for cell in cells])
    bounds = np.concatenate([[0], np.cumsum([len(cell.starts) for cell in cells])])
    positions = np.array([electrode.position for electrode in electrodes], dtype=float)
    result = np.zeros((len(starts), len(electrodes)))
    kinds = np.array([electrode.type for electrode in electrodes])

    conductivity = np.asarray(sigma, dtype=float) / UNITS[units]  # the unit factor folds into the conductivity
    points_everywhere = np.flatnonzero(kinds == "PointSource")
    lines = np.flatnonzero(kinds == "LineSource")
    for low in range(0, len(starts), ROWS_PER_CALL):
        rows = np.arange(low, min(low + ROWS_PER_CALL, len(starts)))
        if points_everywhere.size:
            block = point_source_matrix(positions[points_everywhere], midpoints[rows], conductivity[points_everywhere],
                                        floor[rows])
            result[np.ix_(rows, points_everywhere)] = block.T
        if lines.size:
            # every row as a line (cheap for the few somatic ones), then somatic rows as points at the soma
            # centre; a probe of line sources only is written straight into the result's rows
            target = result[rows[0]: rows[-1] + 1] if lines.size == len(electrodes) else None
            block = line_source_matrix(positions[lines], starts[rows], ends[rows], conductivity[lines], floor[rows],
                                       floor_beside_only=True, segments_first=True, out=target)
            somas = np.flatnonzero(somatic[rows])
            if somas.size:
                block[somas] = point_source_matrix(positions[lines], midpoints[rows[somas]], conductivity[lines],
                                                   floor[rows[somas]]).T
            if target is None:
                result[np.ix_(rows, lines)] = block

    arrays = csd_arrays(electrodes, array_indices)
    for index in np.flatnonzero(~np.isin(kinds, ANALYTIC)):
        electrode, point = electrodes[index], positions[index]
        if electrode.type == "ObjectiveCSD_Sphere":
            result[:, index] = np.linalg.norm(midpoints - point, axis=1) <= (electrode.radius or 10.0)
        elif electrode.type in ("ObjectiveCSD_Plane", "ObjectiveCSD_Disk"):
            axis, half_spacing = _array_geometry(positions[arrays[index]])
            offset = midpoints - point
            inside = np.abs(offset @ axis) <= (electrode.thickness if electrode.thickness is not None else half_spacing)
            if electrode.type == "ObjectiveCSD_Disk":
                radial = np.linalg.norm(offset - np.outer(offset @ axis, axis), axis=1)
                inside &= radial <= (electrode.radius or 500.0)
            result[:, index] = inside
        elif electrode.type in ("Reciprocity", "DipoleReciprocity"):
            field = (lead_fields or {}).get(index)
            if field is None:
                raise InputError(f"Electrode '{electrode.name}' ({electrode.type}) has no lead-field file.")
            if electrode.type == "Reciprocity":
                result[:, index] = field.potential_at(midpoints)
                continue
            for low, high in zip(bounds[:-1], bounds[1:]):  # the dipole centre is per cell
                cell_midpoints = midpoints[low:high]
                centre = cell_midpoints.mean(axis=0)
                result[low:high, index] = -((cell_midpoints - centre) * 1e-6) @ field.field_at(centre)
        elif electrode.type == "FourSphere":
            for low, high in zip(bounds[:-1], bounds[1:]):
                result[low:high, index] = _four_sphere(point[None], midpoints[low:high], electrode.name) * UNITS[units]
        else:
            raise InputError(f"Electrode '{electrode.name}' has unknown type {electrode.type}.")
    return result
