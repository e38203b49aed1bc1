"""What every parameter tree shares: the error type, typed fields, YAML in and out, merging with
defaults, dotted overrides with did-you-mean hints, validation messages and fresh seeds.

Parameter trees are pydantic models (one source of every default, its unit and its meaning) whose
key names and nesting are MEArec's, so MEArec's YAML files load unchanged and ``model_dump()``
writes them back in MEArec's layout.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from si_recsim.errors import InputError


class ParameterError(InputError):
    """A parameter is missing, unknown or out of range."""


_EXPONENT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _plain_number(value: Any) -> Any:
    """numpy scalars as Python numbers; booleans and strings are not numbers, except exponent notation
    without a dot or sign (``1e12``), which YAML 1.1 reads as a string."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and _EXPONENT_NUMBER.match(value.strip()):
        return float(value)
    if isinstance(value, (bool, str)):
        raise InputError("must be a number")
    return value


#: a finite number (booleans and strings refused)
Number = Annotated[float, BeforeValidator(_plain_number), Field(allow_inf_nan=False)]
#: a whole number (booleans, strings and fractions refused)
Integer = Annotated[int, BeforeValidator(_plain_number)]
#: true or false, nothing else
Flag = Annotated[bool, Strict()]


def ordered_limits(value: list | None) -> list | None:
    """A validator of ``[min, max]`` limits in µm (null allowed where the field's type allows it)."""
    if value is not None and (len(value) != 2 or value[0] > value[1]):
        raise InputError("must be [min, max] in um with min <= max")
    return value


class ParameterSection(BaseModel):
    """A section of a parameter tree: unknown keys refused, values checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


def field(default: Any, description: str, **constraints: Any) -> Any:
    """A parameter with its default and the one-line description (with its unit) shown in the
    commented defaults."""
    return Field(default, description=description, **constraints)


MAX_PARAMS_FILE_BYTES = 4 * 1024 * 1024


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML safely (libyaml's C parser when PyYAML has it), naming ``source`` and the line on a
    syntax error.

    Aliases (``*name``) are refused: parameter files have no use for them, and a few hundred bytes of
    nested aliases expand to gigabytes (a "billion laughs" document).
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise ParameterError(f"{source}, line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are "
                                     "not accepted in parameter files; write the values out.")
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParameterError(f"{where}: YAML syntax error ({problem}); fix the file.") from None


def load_params_file(file_path: str | Path) -> dict:
    """Read a YAML (or JSON) parameter file into a dictionary."""
    file_path = Path(file_path)
    if not file_path.is_file():
        raise ParameterError(f"Parameter file {file_path} does not exist: pass the path of a YAML file.")
    if file_path.stat().st_size > MAX_PARAMS_FILE_BYTES:
        raise ParameterError(f"Parameter file {file_path} is {file_path.stat().st_size / 2**20:.0f} MiB: parameter "
                             f"files are at most {MAX_PARAMS_FILE_BYTES // 2**20} MiB of YAML; pass the right file.")
    try:
        text = file_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParameterError(f"Parameter file {file_path} is not UTF-8 text (byte {error.start}).") from None
    loaded = parse_yaml(text, str(file_path))
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"Parameter file {file_path} must contain a mapping of sections, not {type(loaded).__name__}.")
    return loaded


def _check_keys(base: dict, overrides: dict, path: str = "") -> None:
    """Refuse keys of ``overrides`` that ``base`` (the defaults) does not have, with the closest match."""
    for key, value in overrides.items():
        dotted = f"{path}{key}"
        if key not in base:
            close = difflib.get_close_matches(str(key), [str(k) for k in base], n=1)
            hint = f" Did you mean '{path}{close[0]}'?" if close else ""
            raise ParameterError(f"Unknown parameter '{dotted}'.{hint} Valid keys here: {sorted(base)}.")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ParameterError(f"Parameter '{dotted}' must be a mapping, got {value!r}.")
            _check_keys(base[key], value, path=f"{dotted}.")


def _merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(base[key], value) if isinstance(base.get(key), dict) else value
    return merged


def _set_dotted(tree: dict, dotted_key: str, value: Any) -> None:
    """``tree["a"]["b"] = value`` from ``"a.b"``, checking that the key exists."""
    parts = dotted_key.split(".")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], dict):
            raise ParameterError(f"Unknown parameter section '{'.'.join(parts[: depth + 1])}' in '{dotted_key}'.")
        node = node[part]
    if parts[-1] not in node:
        close = difflib.get_close_matches(parts[-1], list(node), n=1)
        hint = f" Did you mean '{'.'.join(parts[:-1] + [close[0]])}'?" if close else ""
        raise ParameterError(f"Unknown parameter '{dotted_key}'.{hint}")
    node[parts[-1]] = value


def merged_tree(defaults: BaseModel, params: dict | BaseModel | str | Path | None, overrides: dict) -> dict:
    """The defaults updated by a parameter dict, model or file (partial is fine), then by dotted
    ``overrides``; unknown keys are refused with the closest valid one."""
    tree = defaults.model_dump()
    if isinstance(params, BaseModel):
        params = params.model_dump()
    elif isinstance(params, (str, Path)):
        params = load_params_file(params)
    params = params or {}
    if not isinstance(params, dict):
        raise ParameterError(f"Parameters must be a mapping, a YAML file or None, got {type(params).__name__}.")
    _check_keys(tree, params)
    tree = _merge(tree, params)
    for key, value in overrides.items():
        _set_dotted(tree, key, value)
    return tree


def validated(model: type[BaseModel], tree: dict) -> BaseModel:
    """``model`` built from ``tree``; the first problem as a :class:`ParameterError` naming the key."""
    try:
        return model.model_validate(tree)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "value_error" and not key:
            raise ParameterError(message) from None
        shown = f", got {first['input']!r}" if "input" in first and not isinstance(first["input"], dict) else ""
        message = message.rstrip(".")  # one full stop, after what was given
        raise ParameterError(f"'{key}': {message[0].lower() + message[1:]}{shown}.") from None


def fresh_seed() -> int:
    """A seed drawn from the operating system's entropy (recorded wherever it is used)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])


def commented_yaml(model: BaseModel, header: str) -> str:
    """``model`` as YAML with each key's description as a comment (what ``default-params`` prints)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()] + [""]

    def emit(node: BaseModel, indent: str) -> None:
        for name, info in type(node).model_fields.items():
            value = getattr(node, name)
            comment = f"  # {info.description}" if info.description else ""
            if isinstance(value, BaseModel):
                lines.extend(["", f"{indent}{name}:{comment}"])
                emit(value, indent + "  ")
            else:
                dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
                dumped = dumped.removesuffix("\n...").removesuffix("...").strip()
                lines.append(f"{indent}{name}: {dumped}{comment}")

    emit(model, "")
    return "\n".join(lines).rstrip() + "\n"
