"""What the machine can hold: runs whose estimated memory or disk exceed it are refused before they start.

The estimates are orders of magnitude (within a factor of a few), meant to stop a typing mistake
(a duration of 1e12 s, a million units, a sampling rate of 1 THz) from filling the memory or the
disk after minutes of work. ``allow_large=True`` (``--allow-large``) skips the check.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from si_recsim.errors import InputError

MEMORY_FRACTION = 0.8  # of the memory available now that one run may plan to use


class ResourceError(InputError):
    """A run would need more memory or disk than the machine has."""


def available_memory_bytes() -> int:
    """Memory available to new allocations now (``MemAvailable`` of /proc/meminfo, else free pages)."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def free_disk_bytes(path: str | Path) -> int:
    """Free space on the file system that holds ``path`` (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def readable_bytes(count: float) -> str:
    """``count`` bytes as a short text (``12.3 GB``)."""
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} B"


def require_memory(what: str, needed_bytes: float, fix: str, allow_large: bool = False) -> None:
    """Refuse ``what`` when it needs more than :data:`MEMORY_FRACTION` of the available memory.

    Raises
    ------
    ResourceError
        One line: the estimate, what the machine has, ``fix`` and how to override.
    """
    available = MEMORY_FRACTION * available_memory_bytes()
    if not allow_large and needed_bytes > available:
        raise ResourceError(f"{what} needs about {readable_bytes(needed_bytes)} of memory, more than the "
                            f"{readable_bytes(available)} this machine can give: {fix}, or pass allow_large=True "
                            "(--allow-large) to try anyway.")


def require_disk(what: str, needed_bytes: float, path: str | Path, fix: str, allow_large: bool = False) -> None:
    """Refuse ``what`` when it would write more than the free space where ``path`` goes.

    Raises
    ------
    ResourceError
    """
    free = free_disk_bytes(path)
    if not allow_large and needed_bytes > free:
        raise ResourceError(f"{what} would write about {readable_bytes(needed_bytes)}, more than the "
                            f"{readable_bytes(free)} free at {Path(path).absolute().parent}: {fix}, or pass "
                            "allow_large=True (--allow-large) to try anyway.")
