"""Electrode tables for SONATA electrodes files: CSV, BlueRecording's JSON, or a probeinterface probe.

Every electrode has a name, a position (µm, circuit coordinates), a method ``type``, ``layer`` and
``region`` metadata (strings; ``"NA"`` stays the string ``"NA"``), and for ObjectiveCSD electrodes
an optional ``radius`` and ``thickness`` (µm). Columns of the weights matrix follow the table order.
Validation names the row and the fix.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError

TYPES = ("LineSource", "PointSource", "Reciprocity", "DipoleReciprocity", "ObjectiveCSD_Sphere",
         "ObjectiveCSD_Disk", "ObjectiveCSD_Plane", "FourSphere")
_OLD_CSD_ARITY = {"ObjectiveCSD_Sphere": (1, 1), "ObjectiveCSD_Disk": (1, 2), "ObjectiveCSD_Plane": (1, 1)}


class ElectrodeError(InputError):
    """An electrode table row is invalid."""


@dataclass(frozen=True)
class Electrode:
    """One electrode (one column of the weights)."""

    name: str
    position: tuple
    type: str = "LineSource"
    layer: str = "NA"
    region: str = "NA"
    radius: float | None = None
    thickness: float | None = None


def _parse_type(raw: str, row: str) -> tuple[str, float | None, float | None]:
    """The method type, with radius / thickness from MEArec-era ``ObjectiveCSD_<shape>_<params>`` strings."""
    raw = (raw or "LineSource").strip()
    if raw in TYPES:
        return raw, None, None
    for shape, (low, high) in _OLD_CSD_ARITY.items():
        if raw.startswith(shape + "_"):
            parts = raw[len(shape) + 1:].split("_")
            try:
                values = [float(part) for part in parts]
            except ValueError:
                raise ElectrodeError(f"{row}: '{raw}' has non-numeric parameters; write e.g. {shape}_10.") from None
            if not low <= len(values) <= high:
                raise ElectrodeError(f"{row}: '{raw}' takes {low}-{high} numbers after {shape}_.")
            if shape == "ObjectiveCSD_Plane":
                return shape, None, values[0]
            return shape, values[0], values[1] if len(values) > 1 else None
    raise ElectrodeError(f"{row}: unknown electrode type '{raw}'; use one of {list(TYPES)}.")


def _optional_float(value, key: str, row: str) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "NA", "nan", "None")):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ElectrodeError(f"{row}: {key} must be a number in um, got {value!r}.") from None
    if not math.isfinite(number) or number <= 0:
        raise ElectrodeError(f"{row}: {key} must be a positive finite number in um, got {value!r}.")
    return number


def make_electrode(record: dict, row: str) -> Electrode:
    """An :class:`Electrode` from a mapping of table fields, validated."""
    name = str(record.get("name", "")).strip()
    if not name:
        raise ElectrodeError(f"{row}: the electrode has no name.")
    if "/" in name:
        raise ElectrodeError(f"{row}: electrode name '{name}' contains '/', which would nest HDF5 groups; rename it.")
    if name in (".", "..") or any(ord(character) < 32 or ord(character) == 127 for character in name):
        raise ElectrodeError(f"{row}: electrode name {name!r} cannot name an HDF5 group (it is '.' or '..' or holds "
                             "control characters such as NUL); rename it.")
    try:
        position = tuple(float(record[axis]) for axis in ("x", "y", "z"))
    except KeyError as missing:
        raise ElectrodeError(f"{row}: coordinate {missing} is missing; give x, y and z in um.") from None
    except (TypeError, ValueError):
        raise ElectrodeError(f"{row}: coordinates must be numbers, got {[record.get(a) for a in 'xyz']}.") from None
    if not all(math.isfinite(value) for value in position):
        raise ElectrodeError(f"{row}: coordinates must be finite, got {position}.")
    kind, radius, thickness = _parse_type(record.get("type"), row)
    radius = _optional_float(record.get("radius"), "radius", row) or radius
    thickness = _optional_float(record.get("thickness"), "thickness", row) or thickness
    layer = record.get("layer")
    region = record.get("region")
    return Electrode(name=name, position=position, type=kind,
                     layer="NA" if layer in (None, "") else str(layer), region="NA" if region in (None, "") else str(region),
                     radius=radius, thickness=thickness)


def _as_record(electrode) -> dict:
    """The table fields of an :class:`Electrode` given directly (checked like a table row)."""
    if not isinstance(electrode, Electrode):
        raise ElectrodeError(f"Electrodes must be si_recsim Electrode objects or table rows, got {type(electrode).__name__}.")
    position = np.ravel(np.asarray(electrode.position, dtype=object))
    if position.size != 3:
        raise ElectrodeError(f"electrode '{electrode.name}': the position needs x, y and z in um, got {electrode.position}.")
    return dict(name=electrode.name, x=position[0], y=position[1], z=position[2], type=electrode.type,
                layer=electrode.layer, region=electrode.region, radius=electrode.radius, thickness=electrode.thickness)


def validate_electrodes(electrodes: list[Electrode], populations: tuple = ()) -> list[Electrode]:
    """Check every electrode as a table row is checked (name usable as an HDF5 group and by libsonata,
    finite position, known type, positive radius and thickness), and refuse empty tables, duplicate
    names and names that collide with a population group.

    Returns
    -------
    list of Electrode
        The electrodes as :func:`make_electrode` normalises them.
    """
    if not electrodes:
        raise ElectrodeError("The electrode table is empty: give at least one electrode.")
    electrodes = [make_electrode(_as_record(electrode), f"electrode {index + 1}")
                  for index, electrode in enumerate(electrodes)]
    seen: dict[str, int] = {}
    for index, electrode in enumerate(electrodes):
        if electrode.name in seen:
            raise ElectrodeError(f"row {index + 1}: electrode name '{electrode.name}' repeats row {seen[electrode.name] + 1};"
                                 " names must be unique.")
        if electrode.name in populations:
            raise ElectrodeError(f"row {index + 1}: electrode name '{electrode.name}' equals a population name and would "
                                 "collide with /electrodes/<population>; rename it.")
        seen[electrode.name] = index
    return electrodes


def read_electrodes_csv(file_path: str | Path) -> list[Electrode]:
    """Electrodes from a CSV with header ``name,x,y,z,layer,region,type`` (optional ``radius``,
    ``thickness``; the first column may be an unnamed index holding the names). Lines starting with
    ``#`` before the header are comments."""
    file_path = Path(file_path)
    with file_path.open(newline="", encoding="utf-8-sig") as handle:  # a byte-order mark is accepted
        try:
            lines = list(handle)
            comments = next((index for index, line in enumerate(lines) if not line.startswith("#")), len(lines))
            reader = csv.DictReader(lines[comments:])
            if reader.fieldnames is None:
                raise ElectrodeError(f"{file_path} is empty: write a header name,x,y,z,layer,region,type.")
            fields = [field.strip() for field in reader.fieldnames]
            rows = list(reader)
        except UnicodeDecodeError as error:
            raise ElectrodeError(f"{file_path} is not UTF-8 text (byte {error.start}): save it as UTF-8.") from None
        except csv.Error as error:
            raise ElectrodeError(f"{file_path} is not a readable CSV table ({error}).") from None
    if "name" not in fields and fields[0] == "":
        fields[0] = "name"
    missing = [key for key in ("name", "x", "y", "z") if key not in fields]
    if missing:
        raise ElectrodeError(f"{file_path}: columns {missing} are missing; the header must start name,x,y,z.")
    electrodes = []
    for number, row in enumerate(rows, start=2 + comments):
        record = {field: value for field, value in zip(fields, row.values())}
        electrodes.append(make_electrode(record, f"{file_path.name} line {number}"))
    return validate_electrodes(electrodes)


def read_electrodes_json(file_path: str | Path) -> list[Electrode]:
    """Electrodes from BlueRecording's JSON (a list of objects with name, x, y, z, type, layer, region,
    radius, thickness)."""
    file_path = Path(file_path)
    try:
        records = json.loads(file_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ElectrodeError(f"{file_path} is not UTF-8 text (byte {error.start}): save it as UTF-8.") from None
    except json.JSONDecodeError as error:
        raise ElectrodeError(f"{file_path} is not valid JSON: {error}.") from None
    if not isinstance(records, list):
        raise ElectrodeError(f"{file_path} must hold a JSON list of electrodes.")
    return validate_electrodes([make_electrode(record, f"{file_path.name} item {index}")
                                for index, record in enumerate(records)])


def read_electrodes(file_path: str | Path) -> list[Electrode]:
    """Electrodes from a ``.csv`` or ``.json`` table."""
    suffix = Path(file_path).suffix.lower()
    if suffix == ".json":
        return read_electrodes_json(file_path)
    if suffix == ".csv":
        return read_electrodes_csv(file_path)
    raise ElectrodeError(f"{file_path}: electrode tables are .csv or .json files.")


def electrodes_from_probe(probe, position: np.ndarray = (0.0, 0.0, 0.0), rotation: np.ndarray | None = None,
                          kind: str = "LineSource", layer: str = "NA", region: str = "NA",
                          prefix: str = "e") -> list[Electrode]:
    """Electrodes at the contacts of a probeinterface probe placed in circuit coordinates.

    Parameters
    ----------
    probe : Probe
        2-D (contacts in its plane, z = 0) or 3-D.
    position : array-like, default: (0, 0, 0)
        Where the probe's origin goes, µm.
    rotation : np.ndarray | None, default: None
        3×3 rotation applied to the contacts before moving them (e.g. to align the shank with a
        cortical column).
    kind, layer, region : str
    prefix : str, default: "e"
        Names are ``prefix`` + contact index.
    """
    from si_recsim.probes import contact_positions_3d

    points = contact_positions_3d(probe)
    if rotation is not None:
        points = points @ np.asarray(rotation, dtype=float).T
    points = points + np.asarray(position, dtype=float)
    return validate_electrodes([make_electrode(dict(name=f"{prefix}{index}", x=x, y=y, z=z, type=kind, layer=layer,
                                                    region=region), f"contact {index}")
                                for index, (x, y, z) in enumerate(points)])
