"""HDF5 input files opened and checked before use: a missing, foreign, truncated or malformed file is
refused with one line naming it, never a traceback halfway through a run."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from si_recsim.errors import InputError

NUMERIC_KINDS = "iuf"


def open_h5(file_path: str | Path, what: str) -> h5py.File:
    """``file_path`` opened read-only.

    Parameters
    ----------
    file_path : str | Path
    what : str
        What the file should be, for the message (e.g. ``"a MEArec recording file"``).

    Raises
    ------
    FileNotFoundError
    InputError
        Not an HDF5 file, or a damaged (e.g. truncated) one.
    """
    file_path = Path(file_path)
    if not file_path.exists():
        raise FileNotFoundError(f"{file_path} does not exist: give the path of {what}.")
    if file_path.is_dir():
        raise InputError(f"{file_path} is a folder: give the path of {what}.")
    try:
        return h5py.File(file_path, "r")
    except OSError as error:
        raise InputError(f"{file_path} cannot be opened as HDF5 ({_first_line(error)}): give {what}, whole "
                         "(a truncated copy fails this way too).") from None


def checked_array(file: h5py.File, key: str, ndims: tuple[int, ...], what: str, kinds: str = NUMERIC_KINDS,
                  shape: tuple | None = None) -> np.ndarray:
    """The dataset ``key`` read whole, after checking its presence, dtype kind, dimensions and shape.

    ``shape`` entries that are None are free. Non-finite floats are refused.

    Raises
    ------
    InputError
    """
    dataset = checked_dataset(file, key, ndims, what, kinds, shape)
    values = read_dataset(dataset, what)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise InputError(f"{file.filename}: '{key}' holds NaN or infinite values; {what} needs finite numbers.")
    return values


def checked_dataset(file: h5py.File, key: str, ndims: tuple[int, ...], what: str, kinds: str = NUMERIC_KINDS,
                    shape: tuple | None = None) -> h5py.Dataset:
    """The dataset ``key`` (not read), checked as in :func:`checked_array`."""
    if key not in file or not isinstance(file[key], h5py.Dataset):
        raise InputError(f"{file.filename} is not {what}: dataset '{key}' is missing.")
    dataset = file[key]
    kind = dataset.dtype.kind
    if kind not in kinds:
        expected = "numbers" if kinds == NUMERIC_KINDS else f"dtype kind {kinds!r}"
        raise InputError(f"{file.filename}: '{key}' holds {dataset.dtype} values, not {expected}: it is not {what}.")
    if dataset.ndim not in ndims:
        raise InputError(f"{file.filename}: '{key}' has {dataset.ndim} dimension(s) {dataset.shape}, expected "
                         f"{' or '.join(map(str, ndims))}: it is not {what}.")
    if shape is not None and any(size is not None and size != actual for size, actual in zip(shape, dataset.shape)):
        wanted = tuple("any" if size is None else size for size in shape)
        raise InputError(f"{file.filename}: '{key}' has shape {dataset.shape}, expected {wanted}: it is not {what}.")
    return dataset


def read_dataset(dataset: h5py.Dataset, what: str, selection=()) -> np.ndarray:
    """``dataset[selection]``, a damaged file's read error as one line."""
    try:
        return np.asarray(dataset[selection])
    except (OSError, ValueError) as error:
        raise InputError(f"{dataset.file.filename}: '{dataset.name}' cannot be read ({_first_line(error)}): the "
                         f"file is damaged or truncated; give {what}, whole.") from None


def positive_number(value, name: str, file_path: str | Path) -> float:
    """``value`` as a finite number > 0, else :class:`InputError` naming ``name`` in ``file_path``."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bytes, str, bool, np.bool_)) or value is None:
        raise InputError(f"{file_path}: {name} must be a positive number, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{file_path}: {name} must be a positive number, got {value!r}.") from None
    if not np.isfinite(number) or number <= 0:
        raise InputError(f"{file_path}: {name} must be a positive number, got {value!r}.")
    return number


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]
