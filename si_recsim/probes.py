"""Probes as probeinterface objects, and the mapping between MEArec's frame and ours.

Frames
------
si_recsim follows SpikeInterface: a planar probe is a 2-D probeinterface ``Probe`` lying in its
plane at z = 0, and cells sit in front of it at z > 0. A unit location is ``(x, y, z)`` in µm
with ``(x, y)`` in the probe plane and ``z`` the distance from it.

MEArec (MEAutility) puts planar probes in the ``yz`` plane: the plane normal is MEArec's x axis
(cells at x > 0), MEArec's y runs across the shank columns and MEArec's z runs along the shank.
So, for a ``yz`` probe::

    si_recsim (x, y, z) = MEArec (y, z, x)        MEArec (x, y, z) = si_recsim (z, x, y)

which is also what ``probeinterface.read_mearec`` does for the channel positions. The conversion
is applied only at the MEArec file boundary (:func:`mearec_to_si_positions`,
:func:`si_to_mearec_positions`).
"""

from __future__ import annotations

import json

import numpy as np
from probeinterface import Probe, generate_multi_columns_probe

from si_recsim.errors import InputError

# MEAutility-style definitions: contacts per column along the shank, pitch (along, across) in µm,
# stagger of odd columns along the shank in µm, contact shape and size (radius or half side, µm).
_MEA_DEFINITIONS: dict[str, dict] = {
    "Neuronexus-32": dict(columns=[10, 12, 10], pitch=(25.0, 18.0), stagger=-12.5, shape="circle", size=7.5,
                          description="Neuronexus A1x32-Poly3-5mm-25s-177: 32 circular contacts, 3 staggered columns"),
    **{
        f"Neuropixels-{n}": dict(columns=[n // 4] * 4, pitch=(40.0, 16.0), stagger=20.0, shape="square", size=6.0,
                                 description=f"Neuropixels-like: {n} square contacts in 4 staggered columns")
        for n in (24, 64, 128, 384)
    },
    **{
        f"Neuropixels2-{n}": dict(columns=[n // 2] * 2, pitch=(15.0, 32.0), stagger=0.0, shape="square", size=6.0,
                                  description=f"Neuropixels 2.0-like: {n} square contacts in 2 columns")
        for n in (24, 64, 128, 384)
    },
    "Neuroseeker-128": dict(columns=[32] * 4, pitch=(22.5, 22.5), stagger=0.0, shape="square", size=10.0,
                            description="Neuroseeker-like: 128 square contacts in 4 columns"),
    **{
        f"SqMEA-{n}-{p}": dict(columns=[n] * n, pitch=(float(p), float(p)), stagger=0.0, shape="square",
                               size=size, description=f"square MEA: {n}x{n} contacts, pitch {p} um")
        for n, p, size in ((5, 30, 12.5), (6, 25, 10.0), (7, 20, 7.5), (10, 15, 5.0), (15, 10, 2.5))
    },
    "tetrode-mea-l": dict(columns=[4], pitch=(16.0, 1.0), stagger=0.0, shape="square", size=7.0,
                          description="silicon tetrode, 4 square contacts in a line"),
    "tetrode-mea-s": dict(columns=[2, 2], pitch=(16.0, 16.0), stagger=0.0, shape="square", size=7.0,
                          description="silicon tetrode, 4 square contacts in a square"),
    "tetrode-mea-d": dict(columns=[1, 2, 1], pitch=(32.0, 16.0), stagger=-16.0, shape="square", size=7.0,
                          description="silicon tetrode, 4 square contacts in a diamond"),
    "tetrode": dict(columns=[2, 2], pitch=(16.0, 16.0), stagger=0.0, shape="circle", size=8.0, wire=True,
                    description="microwire tetrode, 4 circular contacts"),
    "monotrode": dict(columns=[1], pitch=(1.0, 1.0), stagger=0.0, shape="circle", size=10.0, wire=True,
                      description="single microwire contact"),
}


def neuropixels_part_numbers() -> list[str]:
    """Neuropixels part numbers (e.g. ``"NP1000"``) in probeinterface's bundled probe table."""
    from importlib import resources

    table = resources.files("probeinterface").joinpath("resources/neuropixels_probe_features.json")
    if not table.is_file():
        return []
    return sorted(json.loads(table.read_text())["neuropixels_probes"])


def available_probe_names() -> list[str]:
    """MEArec-style probe names accepted by :func:`probe_from_name` (Neuropixels part numbers are listed by
    :func:`neuropixels_part_numbers`)."""
    return sorted(_MEA_DEFINITIONS)


def _column_probe(columns: list[int], pitch_along: float, pitch_across: float, stagger: float, shape: str,
                  size: float) -> Probe:
    """A column-grid probe from probeinterface's ``generate_multi_columns_probe``, centred on its
    contacts' mean; odd columns shifted by ``stagger`` along the shank (µm)."""
    if shape not in ("circle", "square"):
        raise InputError(f"Unsupported contact shape {shape!r}: use 'circle' or 'square'.")
    shape_params = {"radius": float(size)} if shape == "circle" else {"width": 2.0 * float(size)}
    probe = generate_multi_columns_probe(
        num_columns=len(columns), num_contact_per_column=[int(n) for n in columns], xpitch=float(pitch_across),
        ypitch=float(pitch_along), y_shift_per_column=[stagger if column % 2 else 0.0 for column in range(len(columns))],
        contact_shapes=shape, contact_shape_params=shape_params)
    probe.move(-np.asarray(probe.contact_positions).mean(axis=0))
    return probe


def _mearec_annotated(probe: Probe, name: str, description: str, wire: bool = False) -> Probe:
    """``probe`` named and annotated as MEArec describes it, wired one-to-one (microwires have no shank)."""
    probe.model_name = name
    if wire:
        probe.probe_planar_contour = None
    elif probe.probe_planar_contour is None:
        probe.create_auto_shape(probe_type="tip")
    probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
    probe.annotate(mearec_name=name, mearec_description=description, mearec_type="wire" if wire else "mea")
    return probe


def is_planar_mea(probe: Probe) -> bool:
    """Whether contacts sit on an insulating plane (MEArec type ``mea``), where the method of images
    doubles potentials; microwires (type ``wire``) do not."""
    return probe.annotations.get("mearec_type", "mea") == "mea" and probe.ndim == 2


def probe_from_name(name: str) -> Probe:
    """Build a named probe offline as a 2-D probeinterface probe (with device channel indices).

    Parameters
    ----------
    name : str
        A MEArec/MEAutility name from :func:`available_probe_names` (e.g. ``"Neuronexus-32"``,
        ``"tetrode-mea-d"``), or a Neuropixels part number from :func:`neuropixels_part_numbers`
        (e.g. ``"NP1000"``: every electrode site of the shank, built by probeinterface from its
        bundled table; slice it with ``probe.get_slice``).

    Returns
    -------
    probe : Probe
    """
    if name in _MEA_DEFINITIONS:
        definition = _MEA_DEFINITIONS[name]
        probe = _column_probe(definition["columns"], *definition["pitch"], definition["stagger"], definition["shape"],
                              definition["size"])
        return _mearec_annotated(probe, name, definition["description"], wire=definition.get("wire", False))
    if name in neuropixels_part_numbers():
        from probeinterface.neuropixels_tools import build_neuropixels_probe

        probe = build_neuropixels_probe(name)
        probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
        return probe
    raise InputError(
        f"Unknown probe {name!r}. Named probes: {', '.join(available_probe_names())}; or a Neuropixels part "
        "number such as NP1000 (si-recsim available-probes lists them)."
    )


def probe_from_mearec_electrodes(info: dict) -> Probe:
    """Rebuild the probe of a MEArec file from its ``info/electrodes`` group.

    Parameters
    ----------
    info : dict
        Keys as MEAutility writes them: ``electrode_name``, ``dim``, ``pitch``, ``stagger``,
        ``shape``, ``size``, optionally ``pos`` (explicit 3-D positions) and ``plane``.

    Returns
    -------
    probe : Probe
        2-D probe in si_recsim's frame.
    """
    name = str(info.get("electrode_name", "mearec-probe"))
    description = str(info.get("description", ""))
    shape, size = str(info.get("shape", "circle")), float(info.get("size", 5.0))
    plane = str(info.get("plane", "yz"))
    wire = str(info.get("type", "mea")) == "wire"
    if info.get("pos") is not None:
        positions = mearec_to_si_positions(np.asarray(info["pos"], dtype=float), plane)
        if shape not in ("circle", "square"):
            raise InputError(f"Unsupported contact shape {shape!r}: use 'circle' or 'square'.")
        probe = Probe(ndim=2, si_units="um")
        probe.set_contacts(positions=positions[:, :2], shapes=shape,
                           shape_params={"radius": size} if shape == "circle" else {"width": 2.0 * size})
        return _mearec_annotated(probe, name, description, wire=wire)
    if name in _MEA_DEFINITIONS:
        probe = probe_from_name(name)
        return probe
    dim = np.atleast_1d(np.asarray(info["dim"], dtype=int)).tolist()
    if len(dim) == 1:
        columns = [dim[0]] * dim[0]
    elif len(dim) == 2:
        columns = [dim[0]] * dim[1]
    else:
        columns = dim
    pitch = np.atleast_1d(np.asarray(info.get("pitch", 1.0), dtype=float))
    pitch_along, pitch_across = (pitch[0], pitch[0]) if pitch.size == 1 else (pitch[0], pitch[1])
    stagger = float(info.get("stagger", 0.0) or 0.0)
    return _mearec_annotated(_column_probe(columns, pitch_along, pitch_across, stagger, shape, size), name,
                             description, wire=wire)


# MEArec plane → MEArec axes that become si_recsim (x, y, z): the two plane axes, then the normal
_PLANE_AXES = {"yz": [1, 2, 0], "xy": [0, 1, 2], "xz": [0, 2, 1]}


def mearec_to_si_positions(positions: np.ndarray, plane: str = "yz") -> np.ndarray:
    """MEArec coordinates (..., 3) of a probe in ``plane`` to si_recsim coordinates (..., 3)."""
    positions = np.asarray(positions, dtype=float)
    return positions[..., _PLANE_AXES[plane]]


def si_to_mearec_positions(positions: np.ndarray, plane: str = "yz") -> np.ndarray:
    """si_recsim coordinates (..., 3) to MEArec coordinates (..., 3) of a probe in ``plane``."""
    positions = np.asarray(positions, dtype=float)
    return positions[..., np.argsort(_PLANE_AXES[plane])]


def si_to_mearec_matrix(plane: str = "yz") -> np.ndarray:
    """The rotation taking si_recsim coordinates to MEArec's (a permutation of the axes)."""
    return si_to_mearec_positions(np.eye(3), plane).T


def mearec_electrodes_info(probe: Probe) -> dict:
    """MEAutility's description of ``probe`` as MEArec files store it (``info/electrodes``).

    Named MEArec probes get their MEAutility definition; any other 2-D probe gets explicit
    3-D contact positions (``pos``) in MEArec's ``yz`` plane.
    """
    name = probe.annotations.get("mearec_name") or probe.model_name or "si_recsim-probe"
    wire = probe.annotations.get("mearec_type") == "wire"
    shape = str(probe.contact_shapes[0])
    shape_params = probe.contact_shape_params[0]
    extra = {}
    if shape == "circle":
        size = shape_params["radius"]
    elif shape == "rect" and shape_params["width"] != shape_params["height"]:
        # readers (probeinterface's read_mearec) fail on "rect": a square of the same area, the exact
        # sides kept for si_recsim's reader
        shape, size = "square", float(np.sqrt(shape_params["width"] * shape_params["height"])) / 2.0
        extra = dict(si_recsim_contact_shape="rect", si_recsim_contact_width=float(shape_params["width"]),
                     si_recsim_contact_height=float(shape_params["height"]))
    else:
        shape, size = "square", shape_params["width"] / 2.0
    info = dict(electrode_name=name, description=probe.annotations.get("mearec_description", ""),
                type="wire" if wire else "mea", plane="xy" if wire else "yz", shape=shape, size=float(size),
                sortlist=None, **extra)
    definition = _MEA_DEFINITIONS.get(name)
    if definition is not None and _is_whole_named_probe(probe, name):
        columns = definition["columns"]
        info.update(pitch=list(definition["pitch"]), stagger=float(definition["stagger"]),
                    dim=columns if len(set(columns)) > 1 else [columns[0], len(columns)])
    else:
        if definition is not None:  # a subset of a named probe: its own contacts, not the whole probe's
            info["electrode_name"] = f"{name} ({probe.get_contact_count()} contacts)"
        info["pos"] = si_to_mearec_positions(contact_positions_3d(probe), info["plane"]).tolist()
    return info


def _is_whole_named_probe(probe: Probe, name: str) -> bool:
    """Whether ``probe`` has exactly the contacts of the named MEArec probe, in its order."""
    whole = probe_from_name(name)
    return (whole.get_contact_count() == probe.get_contact_count()
            and np.allclose(whole.contact_positions, probe.contact_positions))


def wired_copy(probe: Probe) -> Probe:
    """A copy of ``probe`` wired one-to-one (contact i → channel i); ``Probe.copy`` drops the wiring."""
    copied = probe.copy()
    copied.set_device_channel_indices(np.arange(probe.get_contact_count()))
    return copied


def contact_positions_3d(probe: Probe) -> np.ndarray:
    """Contact centres as (n, 3) in si_recsim's frame (a 2-D probe gets z = 0)."""
    positions = np.asarray(probe.contact_positions, dtype=float)
    if positions.shape[1] == 2:
        positions = np.column_stack([positions, np.zeros(len(positions))])
    return positions
