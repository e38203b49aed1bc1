"""What every parameter tree shares: the error type, YAML parsing, merging with defaults,
dotted overrides with did-you-mean hints, fresh seeds and value checks."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import numpy as np
import yaml


class ParameterError(ValueError):
    """A parameter is missing, unknown or out of range."""


def parse_yaml(text: str) -> Any:
    """Parse YAML safely, with libyaml's C parser when PyYAML has it (~10x faster than pure Python)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_params_file(file_path: str | Path) -> dict:
    """Read a YAML (or JSON) parameter file into a dictionary."""
    file_path = Path(file_path)
    if not file_path.is_file():
        raise ParameterError(f"Parameter file {file_path} does not exist: pass the path of a YAML file.")
    loaded = parse_yaml(file_path.read_text())
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"Parameter file {file_path} must contain a mapping of sections, not {type(loaded).__name__}.")
    return loaded


def merge_params(base: dict, overrides: dict, path: str = "") -> dict:
    """Merge ``overrides`` into a copy of ``base``, refusing unknown keys.

    Parameters
    ----------
    base : dict
        Reference tree (normally the defaults): it defines which keys exist.
    overrides : dict
        User values; nested dictionaries are merged section by section.
    path : str, default: ""
        Dotted prefix used in error messages.

    Returns
    -------
    merged : dict
        A new dictionary.
    """
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        dotted = f"{path}{key}"
        if key not in base:
            close = difflib.get_close_matches(str(key), [str(k) for k in base], n=1)
            hint = f" Did you mean '{path}{close[0]}'?" if close else ""
            raise ParameterError(f"Unknown parameter '{dotted}'.{hint} Valid keys here: {sorted(base)}.")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ParameterError(f"Parameter '{dotted}' must be a mapping, got {value!r}.")
            merged[key] = merge_params(base[key], value, path=f"{dotted}.")
        else:
            merged[key] = value
    return merged


def set_dotted(params: dict, dotted_key: str, value: Any) -> None:
    """Set ``params["a"]["b"] = value`` from ``"a.b"``, checking that the key exists."""
    parts = dotted_key.split(".")
    node = params
    for depth, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], dict):
            raise ParameterError(f"Unknown parameter section '{'.'.join(parts[: depth + 1])}' in '{dotted_key}'.")
        node = node[part]
    if parts[-1] not in node:
        close = difflib.get_close_matches(parts[-1], list(node), n=1)
        hint = f" Did you mean '{'.'.join(parts[:-1] + [close[0]])}'?" if close else ""
        raise ParameterError(f"Unknown parameter '{dotted_key}'.{hint}")
    node[parts[-1]] = value


def merge_with_defaults(defaults: dict, params: dict | str | Path | None, overrides: dict) -> dict:
    """``defaults`` updated by a parameter dict or file (partial is fine), then by dotted ``overrides``."""
    if isinstance(params, (str, Path)):
        params = load_params_file(params)
    merged = merge_params(defaults, params or {})
    for key, value in overrides.items():
        set_dotted(merged, key, value)
    return merged


def fresh_seed() -> int:
    """A seed drawn from the operating system's entropy (recorded wherever it is used)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])


def check_number(value: Any, key: str, *, minimum: float | None = None, maximum: float | None = None,
                 strict_minimum: bool = False, integer: bool = False, allow_none: bool = False) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a finite number within the bounds."""
    if value is None:
        if allow_none:
            return
        raise ParameterError(f"'{key}' must be a number, got null.")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"'{key}' must be a number, got {value!r}.")
    if not np.isfinite(value):
        raise ParameterError(f"'{key}' must be finite, got {value!r}.")
    if integer and int(value) != value:
        raise ParameterError(f"'{key}' must be a whole number, got {value!r}.")
    if minimum is not None and (value < minimum or (strict_minimum and value == minimum)):
        relation = ">" if strict_minimum else ">="
        raise ParameterError(f"'{key}' must be {relation} {minimum}, got {value!r}.")
    if maximum is not None and value > maximum:
        raise ParameterError(f"'{key}' must be <= {maximum}, got {value!r}.")


def check_choice(value: Any, key: str, choices: tuple) -> None:
    """Raise :class:`ParameterError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"'{key}' must be one of {list(choices)}, got {value!r}.")


def check_limits(value: Any, key: str) -> None:
    """Raise :class:`ParameterError` unless ``value`` is null or an ordered [min, max] pair."""
    if value is None:
        return
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ParameterError(f"'{key}' must be null or [min, max] in um, got {value!r}.")
    for item in value:
        check_number(item, key)
    if value[0] > value[1]:
        raise ParameterError(f"'{key}' must be [min, max] with min <= max, got {value!r}.")
