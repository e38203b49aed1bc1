"""Files written all or nothing."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np


@contextmanager
def atomic_h5(file_path: str | Path):
    """An HDF5 file written under a temporary name and renamed to ``file_path`` only on success.

    A crash or an exception inside the block leaves no file at ``file_path`` (nor a stale temporary).
    """
    file_path = Path(file_path)
    file_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = file_path.with_name(f".{file_path.name}.tmp")
    try:
        with h5py.File(temporary, "w") as file:
            yield file
        os.replace(temporary, file_path)
    finally:
        if temporary.exists():
            temporary.unlink()


def atomic_savez(file_path: str | Path, arrays: dict) -> None:
    """``numpy.savez`` of ``arrays`` under a temporary name, renamed to ``file_path`` (``.npz``) on success."""
    file_path = Path(file_path)
    temporary = file_path.with_name(file_path.name + ".tmp.npz")
    try:
        np.savez(temporary, **arrays)
        os.replace(temporary, file_path)
    finally:
        if temporary.exists():
            temporary.unlink()
