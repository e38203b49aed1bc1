"""MEArec files read with h5py alone (no MEArec installation needed)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from scipy.spatial.transform import Rotation

from si_recsim.atomic import atomic_h5
from si_recsim.errors import InputError
from si_recsim.h5_input import checked_array, open_h5, positive_number
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.templates import get_default_template_params
from si_recsim.probes import (
    mearec_electrodes_info,
    mearec_to_si_positions,
    probe_from_mearec_electrodes,
    si_to_mearec_matrix,
    si_to_mearec_positions,
)


def _decode(value):
    """A value of MEArec's dict-to-HDF5 encoding back to Python (``"null"`` → None, ``"[]"`` → [])."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            return [item.decode() if isinstance(item, bytes) else item for item in value.tolist()]
        return value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if value == "null":
        return None
    if value == "[]":  # MEArec's encoding of an empty list
        return []
    return value


def read_h5_tree(group: h5py.Group) -> dict:
    """A group of MEArec's parameter tree as nested dictionaries."""
    tree = {}
    for key, item in group.items():
        tree[key] = read_h5_tree(item) if isinstance(item, h5py.Group) else _decode(item[()])
    return tree


def read_mearec_templates(file_path: str | Path) -> TemplateLibrary:
    """Read a MEArec template library file (``gen_templates`` output) into a :class:`TemplateLibrary`.

    Templates are transposed to (n_templates, [n_drift_steps,] n_samples, n_channels), positions and rotations
    converted to si_recsim's frame (see :mod:`si_recsim.probes`); the probe is rebuilt from
    ``info/electrodes``.

    Parameters
    ----------
    file_path : str | Path
        A MEArec templates ``.h5`` file.

    Returns
    -------
    library : TemplateLibrary
    """
    file_path = Path(file_path)
    what = "a MEArec template file"
    with open_h5(file_path, what) as file:
        missing = [key for key in ("templates", "locations", "celltypes", "info/params", "info/electrodes")
                   if key not in file]
        if missing:
            raise InputError(f"{file_path} is not {what}: missing {missing}.")
        raw = checked_array(file, "templates", (3, 4), what)
        n_templates = raw.shape[0]
        templates = np.swapaxes(raw, -1, -2)  # (..., n_channels, n_samples) -> (..., n_samples, n_channels)
        params = read_h5_tree(file["info/params"])
        electrodes = read_h5_tree(file["info/electrodes"])
        plane = str(electrodes.get("plane", "yz"))
        positions = checked_array(file, "locations", (2, 3), what, shape=(n_templates,))
        if positions.shape[-1] != 3:
            raise InputError(f"{file_path}: 'locations' has shape {positions.shape}, expected (n_templates, [steps,] 3).")
        locations = mearec_to_si_positions(positions, plane)
        rotations = (mearec_to_si_rotations(checked_array(file, "rotations", (2,), what, shape=(n_templates, 3)), plane)
                     if "rotations" in file else None)
        cell_models = [_decode(name) for name in checked_array(file, "celltypes", (1,), what, kinds="SOU",
                                                               shape=(n_templates,))]
    dt_ms = positive_number(params.get("dt"), "info/params/dt", file_path)
    cut_out = np.asarray(params.get("cut_out", []))
    if cut_out.shape != (2,) or cut_out.dtype.kind not in "iuf":
        raise InputError(f"{file_path}: info/params/cut_out must be [before, after] in ms, got {params.get('cut_out')!r}.")
    nbefore = int(round(float(cut_out[0]) / dt_ms))
    return TemplateLibrary(
        templates=templates, locations=locations, cell_models=cell_models, sampling_frequency=1000.0 / dt_ms,
        nbefore=nbefore, probe=probe_from_mearec_electrodes(electrodes), rotations=rotations,
        source=f"MEArec template file {file_path.name}", spec=str(file_path.resolve()),
        info=dict(params=params, electrodes=electrodes),
    )


def mearec_to_si_rotations(angles: np.ndarray, plane: str = "yz") -> np.ndarray:
    """MEArec rotations (Euler angles about fixed x, y, z in MEArec's frame) to si_recsim's.

    A morphology point ``n`` lands at ``R_m n`` in MEArec's frame and at ``P^T R_m n`` in ours
    (``P`` from :func:`si_recsim.probes.si_to_mearec_matrix`), so ``R_ours = P^T R_m``.
    """
    permutation = si_to_mearec_matrix(plane)
    matrices = Rotation.from_euler("xyz", np.asarray(angles, dtype=float)).as_matrix()
    return Rotation.from_matrix(permutation.T @ matrices).as_euler("xyz")


def si_to_mearec_rotations(angles: np.ndarray, plane: str = "yz") -> np.ndarray:
    """The inverse of :func:`mearec_to_si_rotations`: ``R_m = P R_ours``."""
    permutation = si_to_mearec_matrix(plane)
    matrices = Rotation.from_euler("xyz", np.asarray(angles, dtype=float)).as_matrix()
    return Rotation.from_matrix(permutation @ matrices).as_euler("xyz")


def write_h5_tree(group: h5py.Group, tree: dict) -> None:
    """MEArec's dict-to-HDF5 encoding: groups for dicts, "null" for None, byte strings for string lists."""
    for key, value in tree.items():
        if isinstance(value, dict):
            write_h5_tree(group.create_group(key), value)
        elif value is None:
            group.create_dataset(key, data="null", dtype=h5py.string_dtype())
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        elif isinstance(value, (list, tuple)) and len(value) == 0:
            group.create_dataset(key, data="[]", dtype=h5py.string_dtype())
        elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            group.create_dataset(key, data=np.array(value, dtype="S"))
        else:
            group.create_dataset(key, data=np.asarray(value))


def write_mearec_templates(library: TemplateLibrary, file_path: str | Path, overwrite: bool = False) -> Path:
    """Write ``library`` as a MEArec template file (``MEArec.load_templates`` opens it).

    Positions and rotations are converted to MEArec's frame, templates transposed to
    (n_templates, [n_drift_steps,] n_channels, n_samples); ``info/params`` carries the generation
    parameters with ``dt``, ``cut_out``, ``probe``, ``drifting`` and ``drift_steps`` set from the data
    (keys it lacks take the defaults of :func:`si_recsim.params.templates.get_default_template_params`,
    MEArec's own); the file is written to a temporary name and renamed; ``overwrite`` replaces an
    existing file only when si_recsim wrote it.
    """
    file_path = Path(file_path)
    electrodes = mearec_electrodes_info(library.probe)
    plane = electrodes["plane"]
    dt = 1000.0 / library.sampling_frequency
    params = get_default_template_params()  # every key MEArec's readers look up
    params.update({key: value for key, value in library.info.get("params", {}).items() if not isinstance(value, dict)})
    n_samples = library.templates.shape[-2]
    params.update(dt=dt, cut_out=[library.nbefore * dt, (n_samples - library.nbefore) * dt],
                  probe=electrodes["electrode_name"], drifting=library.drift_steps is not None)
    if library.drift_steps is not None:  # what the data holds, whatever the metadata says
        params["drift_steps"] = int(library.drift_steps)
    rotations = library.rotations if library.rotations is not None else np.zeros((library.num_templates, 3))
    with atomic_h5(file_path, overwrite=overwrite) as file:
        file.attrs["date"] = __import__("datetime").datetime.now().strftime("%y-%m-%d %H:%M:%S")
        file.create_dataset("templates", data=np.swapaxes(library.templates, -1, -2).astype(np.float32))
        file.create_dataset("locations", data=si_to_mearec_positions(library.locations, plane))
        file.create_dataset("rotations", data=si_to_mearec_rotations(rotations, plane))
        file.create_dataset("celltypes", data=library.cell_models.astype(object), dtype=h5py.string_dtype())
        write_h5_tree(file.create_group("info/params"), params)
        write_h5_tree(file.create_group("info/electrodes"), electrodes)
    return file_path
