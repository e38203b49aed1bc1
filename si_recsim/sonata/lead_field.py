"""Lead fields exported by Sim4Life (the files BlueRecording's reciprocity methods read).

Layout: ``/CurrentApplied`` (scalar, the current that produced the field), ``/Meshes/<first>/axis_x|y|z``
(node coordinates in metres, increasing), and under the last group of ``/FieldGroups``:
``AllFields/EM Potential(x,y,z,f0)/_Object/Snapshots/0/comp0`` (nx, ny, nz, 2: real, imaginary) for
the potential, ``AllFields/EM E(x,y,z,f0)/_Object/Snapshots/0/comp0|1|2`` for the field components
on staggered grids (Ex at x cell centres, and so on). Values are interpolated trilinearly at
positions converted from µm to m; a position outside the grid is an error.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5

POTENTIAL = "EM Potential(x,y,z,f0)"
FIELD = "EM E(x,y,z,f0)"


class LeadField:
    """One lead-field file.

    Parameters
    ----------
    file_path : str | Path
    """

    def __init__(self, file_path: str | Path):
        self.file_path = Path(file_path)
        if not self.file_path.is_file():
            raise FileNotFoundError(f"Lead-field file {self.file_path} does not exist.")
        with open_h5(self.file_path, "a Sim4Life lead-field export") as file:
            if "CurrentApplied" not in file or "Meshes" not in file or "FieldGroups" not in file:
                raise InputError(f"{self.file_path} is not a Sim4Life lead-field export (CurrentApplied, Meshes, "
                                 "FieldGroups).")
            self.current_applied = float(np.asarray(file["CurrentApplied"][()]).ravel()[0])
            mesh = file["Meshes"][next(iter(file["Meshes"]))]
            self.axes = [next(mesh[key][()].ravel() for key in mesh if f"axis_{axis}" in key) for axis in "xyz"]
            group = file["FieldGroups"][list(file["FieldGroups"])[-1]]["AllFields"]
            self.potential = self._component(group, POTENTIAL, 0)
            self.field = [self._component(group, FIELD, index) for index in range(3)]

    @staticmethod
    def _component(group: h5py.Group, name: str, index: int) -> np.ndarray | None:
        path = f"{name}/_Object/Snapshots/0/comp{index}"
        return group[path][()][..., 0] if path in group else None

    def _interpolate(self, grid_axes: list, values: np.ndarray, positions_um: np.ndarray, what: str) -> np.ndarray:
        from scipy.interpolate import RegularGridInterpolator

        points = np.asarray(positions_um, dtype=float) * 1e-6
        outside = np.zeros(len(points), dtype=bool)
        for axis, coordinates in enumerate(grid_axes):
            outside |= (points[:, axis] < coordinates[0]) | (points[:, axis] > coordinates[-1])
        if np.any(outside):
            extent = [(coordinates[0] * 1e6, coordinates[-1] * 1e6) for coordinates in grid_axes]
            raise InputError(f"{outside.sum()} compartments lie outside the {what} grid of {self.file_path.name} "
                             f"(extent in um: {extent}), e.g. at {positions_um[np.flatnonzero(outside)[0]]}: use a "
                             "lead field that covers the circuit.")
        return RegularGridInterpolator(grid_axes, values, method="linear")(points)

    def potential_at(self, positions_um: np.ndarray) -> np.ndarray:
        """Potential per unit applied current at positions (µm)."""
        if self.potential is None:
            raise InputError(f"{self.file_path} has no '{POTENTIAL}' field: Reciprocity needs the potential.")
        return self._interpolate(self.axes, self.potential, positions_um, "potential") / self.current_applied

    def field_at(self, position_um: np.ndarray) -> np.ndarray:
        """E field per unit applied current at one position (µm), from the staggered component grids."""
        if any(component is None for component in self.field):
            raise InputError(f"{self.file_path} has no '{FIELD}' field: DipoleReciprocity needs the E field.")
        centres = [(axis[1:] + axis[:-1]) / 2.0 for axis in self.axes]
        values = []
        for index, component in enumerate(self.field):
            grid = [centres[axis] if axis == index else self.axes[axis] for axis in range(3)]
            values.append(self._interpolate(grid, component, np.asarray(position_um)[None], "E-field")[0])
        return np.array(values) / self.current_applied
