"""Nodes of SONATA circuits with libsonata: configs, node sets, placement and morphology files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from si_recsim.errors import InputError

_QUATERNION = ("orientation_x", "orientation_y", "orientation_z", "orientation_w")
_EULER = ("rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis")
# morphology format → (alternate_morphologies key, extension); the first existing one is used
MORPHOLOGY_FORMATS = {"h5": ("h5v1", ".h5"), "asc": ("neurolucida-asc", ".asc"), "swc": (None, ".swc")}


@dataclass(frozen=True)
class CircuitPaths:
    """The circuit config, and the node sets file and node set a simulation config names."""

    circuit_config: Path
    node_sets_file: Path | None
    node_set: str | None


def resolve_config(config_path: str | Path) -> CircuitPaths:
    """Accept a SONATA circuit config or a simulation config (which names its circuit)."""
    import libsonata

    config_path = Path(config_path)
    if not config_path.is_file():
        raise FileNotFoundError(f"SONATA config {config_path} does not exist.")
    try:
        content = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{config_path} is not a JSON SONATA config: {error}") from error
    if "networks" in content:
        circuit = read_sonata_config(libsonata.CircuitConfig, config_path)
        return CircuitPaths(config_path, _path_or_none(circuit.node_sets_path), None)
    if "network" in content or "run" in content:
        simulation = read_sonata_config(libsonata.SimulationConfig, config_path)
        circuit_path = Path(simulation.network)
        if not circuit_path.is_file():
            raise FileNotFoundError(f"{config_path} names the circuit {circuit_path}, which does not exist.")
        circuit = read_sonata_config(libsonata.CircuitConfig, circuit_path)
        node_sets = _path_or_none(simulation.node_sets_file) or _path_or_none(circuit.node_sets_path)
        return CircuitPaths(circuit_path, node_sets, simulation.node_set or None)
    raise InputError(f"{config_path} is neither a SONATA circuit config (no 'networks') nor a simulation "
                     "config (no 'network' or 'run').")


def read_sonata_config(config_class, path: Path):
    """libsonata's reading of a config (``config_class``: ``CircuitConfig``, ``SimulationConfig``,
    ``NodeSets``); its refusal as one line."""
    import libsonata

    try:
        return config_class.from_file(str(path))
    except (libsonata.SonataError, RuntimeError) as error:  # RuntimeError: its JSON parser's type errors
        raise InputError(f"libsonata rejects {path}: {error}") from None


def _path_or_none(value) -> Path | None:
    return Path(value) if value else None


def biophysical_populations(circuit_config: Path) -> list[str]:
    """Node populations that have morphologies (type ``biophysical``), sorted."""
    import libsonata

    circuit = read_sonata_config(libsonata.CircuitConfig, Path(circuit_config))
    return sorted(name for name in circuit.node_populations
                  if circuit.node_population_properties(name).type == "biophysical")


def select_node_ids(paths: CircuitPaths, population: str, node_set: str | None = None,
                    node_ids=None) -> np.ndarray:
    """Sorted node ids of a population: explicit ``node_ids``, else a node set, else all."""
    import libsonata

    circuit = read_sonata_config(libsonata.CircuitConfig, paths.circuit_config)
    nodes = circuit.node_population(population)
    if node_ids is not None:
        node_ids = np.unique(np.asarray(node_ids, dtype=np.int64))
        bad = node_ids[(node_ids < 0) | (node_ids >= nodes.size)]
        if bad.size:
            raise InputError(f"Population {population} has {nodes.size} nodes (ids 0-{nodes.size - 1}); "
                             f"{bad[:10].tolist()} do not exist.")
        return node_ids
    node_set = node_set or paths.node_set
    if node_set is None:
        return np.arange(nodes.size, dtype=np.int64)
    if paths.node_sets_file is None:
        raise InputError(f"Node set {node_set!r} asked for, but the config names no node sets file.")
    node_sets = read_sonata_config(libsonata.NodeSets, paths.node_sets_file)
    if node_set not in node_sets.names:
        raise InputError(f"Node set {node_set!r} is not in {paths.node_sets_file}; it has "
                         f"{sorted(node_sets.names)}.")
    return np.asarray(node_sets.materialize(node_set, nodes).flatten(), dtype=np.int64)


@dataclass(frozen=True)
class Placements:
    """Positions (n, 3) µm, rotation matrices (n, 3, 3) and morphology files of nodes."""

    positions: np.ndarray
    rotations: np.ndarray
    morphology_paths: list


def node_placements(circuit_config: Path, population: str, node_ids: np.ndarray,
                    morphology_format: str | None = None) -> Placements:
    """Placement of nodes: ``x, y, z``; quaternion ``orientation_[xyzw]`` or Euler angles
    ``rotation_angle_[xyz]axis`` (radians, about x then y then z) or no rotation; morphology files."""
    import libsonata

    circuit = read_sonata_config(libsonata.CircuitConfig, Path(circuit_config))
    nodes = circuit.node_population(population)
    selection = libsonata.Selection(np.asarray(node_ids, dtype=np.uint64))
    names = nodes.attribute_names
    missing = {"x", "y", "z", "morphology"} - names
    if missing:
        raise InputError(f"Population {population} has no {sorted(missing)} attribute(s); a biophysical "
                         "population needs positions and morphology names.")
    positions = np.column_stack([nodes.get_attribute(axis, selection) for axis in "xyz"]).astype(float)
    if set(_QUATERNION) <= names:
        quaternions = np.column_stack([nodes.get_attribute(key, selection) for key in _QUATERNION])
        rotations = Rotation.from_quat(quaternions).as_matrix()
    elif names & set(_EULER):
        angles = np.column_stack([nodes.get_attribute(key, selection) if key in names else np.zeros(len(node_ids))
                                  for key in _EULER])
        rotations = Rotation.from_euler("xyz", angles).as_matrix()
    else:
        rotations = np.broadcast_to(np.eye(3), (len(node_ids), 3, 3)).copy()
    rotations = rotations.reshape(len(node_ids), 3, 3)
    folders = _morphology_folders(circuit, population, morphology_format)
    morphologies = [_morphology_file(folders, name, population) for name in nodes.get_attribute("morphology", selection)]
    return Placements(positions, rotations, morphologies)


def _morphology_folders(circuit, population: str, morphology_format: str | None) -> list[tuple[Path, str]]:
    properties = circuit.node_population_properties(population)
    alternates = properties.alternate_morphology_formats or {}
    formats = [morphology_format] if morphology_format else list(MORPHOLOGY_FORMATS)
    folders = []
    for name in formats:
        if name not in MORPHOLOGY_FORMATS:
            raise InputError(f"morphology_format must be one of {list(MORPHOLOGY_FORMATS)}, got {name!r}.")
        key, extension = MORPHOLOGY_FORMATS[name]
        folder = alternates.get(key) if key else properties.morphologies_dir
        if folder:
            folders.append((Path(folder), extension))
    if not folders:
        raise InputError(f"Population {population} declares no morphology folder"
                         f"{'' if not morphology_format else ' for format ' + morphology_format}.")
    return folders


def _morphology_file(folders: list, name: str, population: str) -> Path:
    for folder, extension in folders:
        candidate = folder / f"{name}{extension}"
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(folder / f"{name}{extension}") for folder, extension in folders)
    raise FileNotFoundError(f"Population {population}: morphology {name!r} not found (tried {tried}).")
