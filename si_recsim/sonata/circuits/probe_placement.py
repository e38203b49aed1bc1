"""A probe placed in a circuit: its shank along the column of the somata, its contacts an electrode table.

The column axis is the principal axis of the soma positions (the direction of largest spread, as
the depth axis of a cortical column), oriented to point along +y; the probe's own y axis (along
the shank) is turned onto it and the probe's x axis onto the component of +x (or +z when the axis
is near x) perpendicular to it. The probe's contact centre goes to the somata's centroid, or to a
given centre. Each electrode takes ``layer`` and ``region`` from the nearest soma's node attributes
when the population has them (``"NA"`` otherwise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from si_recsim.errors import InputError
from si_recsim.sonata.circuits.nodes import read_sonata_config, resolve_config, select_node_ids
from si_recsim.sonata.electrodes import Electrode, electrodes_from_probe


def column_frame(somata: np.ndarray, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """Centroid of ``somata`` (n, 3) µm and the rotation (3×3) taking probe x, y, z to circuit
    coordinates, y along ``axis`` (default: the principal axis of the somata, pointing to +y)."""
    somata = np.asarray(somata, dtype=float)
    if len(somata) < 2 and axis is None:
        raise InputError("The column axis needs at least 2 somata; give the axis (--axis).")
    centroid = somata.mean(axis=0)
    if axis is None:
        _, vectors = np.linalg.eigh(np.cov((somata - centroid).T))
        axis = vectors[:, -1]
        axis = axis if axis[1] >= 0 else -axis
    axis = np.asarray(axis, dtype=float)
    if axis.shape != (3,) or not np.all(np.isfinite(axis)) or np.linalg.norm(axis) == 0:
        raise InputError(f"The column axis must be 3 finite numbers, not all 0; got {axis.tolist()}.")
    shank = axis / np.linalg.norm(axis)
    reference = np.array([1.0, 0.0, 0.0]) if abs(shank[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    across = reference - (reference @ shank) * shank
    across /= np.linalg.norm(across)
    normal = np.cross(across, shank)
    return centroid, np.column_stack([across, shank, normal])


def place_probe(config: str | Path, probe, population: str, node_set: str | None = None, center=None, axis=None,
                kind: str = "LineSource", prefix: str = "e") -> list[Electrode]:
    """Electrodes at the contacts of ``probe`` placed along the column of a circuit population.

    Parameters
    ----------
    config : str | Path
        SONATA circuit or simulation config.
    probe : probeinterface.Probe
        Planar probe (contacts at z = 0, shank along y).
    population : str
    node_set : str | None
        Somata that define the column (default: the config's node set, or every node).
    center, axis : array-like | None
        Circuit coordinates (µm) of the probe's contact centre and the shank direction; default:
        the somata's centroid and principal axis.
    kind : str, default: "LineSource"
    prefix : str, default: "e"

    Returns
    -------
    list of Electrode
    """
    import libsonata

    from si_recsim.probes import contact_positions_3d

    paths = resolve_config(config)
    node_ids = select_node_ids(paths, population, node_set)
    nodes = read_sonata_config(libsonata.CircuitConfig, paths.circuit_config).node_population(population)
    selection = libsonata.Selection(node_ids.astype(np.uint64))
    somata = np.column_stack([nodes.get_attribute(axis_name, selection) for axis_name in "xyz"]).astype(float)
    centroid, rotation = column_frame(somata, axis)
    target = centroid if center is None else np.asarray(center, dtype=float)
    contacts = contact_positions_3d(probe)
    position = target - contact_positions_3d(probe).mean(axis=0) @ rotation.T
    electrodes = electrodes_from_probe(probe, position, rotation, kind=kind, prefix=prefix)
    nearest = np.argmin(np.linalg.norm((contacts @ rotation.T + position)[:, None] - somata[None], axis=2), axis=1)
    labels = {}
    for attribute in ("layer", "region"):
        if attribute in nodes.attribute_names:
            values = np.asarray(nodes.get_attribute(attribute, selection))
            labels[attribute] = [str(value) for value in values[nearest]]
    return [Electrode(name=electrode.name, position=electrode.position, type=electrode.type,
                      layer=labels.get("layer", ["NA"] * len(electrodes))[index],
                      region=labels.get("region", ["NA"] * len(electrodes))[index],
                      radius=electrode.radius, thickness=electrode.thickness)
            for index, electrode in enumerate(electrodes)]


def electrode_table_text(electrodes: list[Electrode], comment: str) -> str:
    """The electrodes as CSV (``name,x,y,z,layer,region,type``) after the comment line ``comment``
    (it starts with ``#``), what :func:`~si_recsim.sonata.read_electrodes` reads."""
    rows = [comment, "name,x,y,z,layer,region,type"]
    for electrode in electrodes:
        x, y, z = electrode.position
        rows.append(f"{electrode.name},{x:.6f},{y:.6f},{z:.6f},{electrode.layer},{electrode.region},{electrode.type}")
    return "\n".join(rows) + "\n"
