"""MEArec files read with h5py alone (no MEArec installation needed)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from si_recsim.generators.library import TemplateLibrary
from si_recsim.probes import mearec_to_si_positions, probe_from_mearec_electrodes


def _decode(value):
    """A value of MEArec's dict-to-HDF5 encoding back to Python (``"null"`` → None)."""
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
    return value


def read_h5_tree(group: h5py.Group) -> dict:
    """A group of MEArec's parameter tree as nested dictionaries."""
    tree = {}
    for key, item in group.items():
        tree[key] = read_h5_tree(item) if isinstance(item, h5py.Group) else _decode(item[()])
    return tree


def read_mearec_templates(file_path: str | Path) -> TemplateLibrary:
    """Read a MEArec template library file (``gen_templates`` output) into a :class:`TemplateLibrary`.

    Templates are transposed to (n_templates, n_samples, n_channels) and positions converted to
    si_recsim's frame (see :mod:`si_recsim.probes`); the probe is rebuilt from ``info/electrodes``.

    Parameters
    ----------
    file_path : str | Path
        A MEArec templates ``.h5`` file.

    Returns
    -------
    library : TemplateLibrary
    """
    file_path = Path(file_path)
    with h5py.File(file_path, "r") as file:
        missing = [key for key in ("templates", "locations", "celltypes", "info/params", "info/electrodes")
                   if key not in file]
        if missing:
            raise ValueError(f"{file_path} is not a MEArec template file: missing {missing}.")
        if file["templates"].ndim != 3:
            raise ValueError(
                f"{file_path} holds drifting templates (shape {file['templates'].shape}); recordings from drifting "
                "libraries are not supported yet: use a static template library."
            )
        templates = np.transpose(file["templates"][()], (0, 2, 1))
        locations = mearec_to_si_positions(file["locations"][()])
        rotations = file["rotations"][()] if "rotations" in file else None
        cell_types = [_decode(name) for name in file["celltypes"][()]]
        params = read_h5_tree(file["info/params"])
        electrodes = read_h5_tree(file["info/electrodes"])
    dt_ms = float(params["dt"])
    nbefore = int(round(float(params["cut_out"][0]) / dt_ms))
    return TemplateLibrary(
        templates=templates, locations=locations, cell_types=cell_types, sampling_frequency=1000.0 / dt_ms,
        nbefore=nbefore, probe=probe_from_mearec_electrodes(electrodes), rotations=rotations,
        source=f"MEArec template file {file_path.name}", spec=str(file_path.resolve()),
        info=dict(params=params, electrodes=electrodes),
    )
