"""Outputs that appear whole or not at all, and never replace what this package did not write.

Every file and folder si_recsim writes goes through :func:`atomic_output`:

- the output is written under a temporary name beside its destination, created exclusively and
  unpredictable (``.NAME.si_recsim-tmp-HOST-PID-START-RANDOM[.SUFFIX]``, the destination's suffix kept for
  writers that look at it), so two runs never share a temporary
  and a link planted in advance cannot redirect the write;
- on success its contents are flushed to disk (``fsync``) and it is renamed onto the destination; on
  failure (an exception, Ctrl-C, SIGTERM under the CLI) it is removed, with any parent folder the
  write created;
- a destination that exists is replaced only with ``overwrite`` and only when this package wrote it
  (HDF5 files carry the root attribute :data:`MARKER_ATTRIBUTE`, folders a :data:`MARKER_FILE`, text
  files the first line :data:`TEXT_MARKER`, PNG images the ``Software`` text chunk); anything else is
  refused before work starts. A folder is replaced by renaming the old one aside, the new one in, then
  removing the old one; a file by one atomic rename;
- a destination that appears while the run writes is never replaced: the run fails instead;
- temporaries and set-aside folders left by a killed run are recognised from their names (this host,
  a process that no longer exists) and removed by the next write into the same folder; a set-aside
  output whose destination is missing is put back.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from si_recsim.version import __version__

MARKER_ATTRIBUTE = "si_recsim_writer"
MARKER_FILE = ".si_recsim"
TEXT_MARKER = "# si_recsim"
PNG_SOFTWARE = "si_recsim"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.si_recsim-(?P<kind>tmp|old)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-"
                        r"(?P<start>\d+)-[0-9a-f]{8}(\.[^.]+)?$")


def writer_label() -> str:
    """What outputs record as their writer: ``si_recsim <version>``."""
    return f"si_recsim {__version__}"


def written_by_si_recsim(path: str | Path) -> bool:
    """Whether ``path`` is an output this package wrote (its marker is there)."""
    path = Path(path)
    if path.is_dir():
        return (path / MARKER_FILE).is_file()
    try:
        with open(path, "rb") as file:
            head = file.read(len(TEXT_MARKER) + 8)
    except OSError:
        return False
    if head.startswith(_HDF5_SIGNATURE):
        try:
            with h5py.File(path, "r") as file:
                return str(file.attrs.get(MARKER_ATTRIBUTE, "")).startswith("si_recsim")
        except OSError:
            return False
    if head.startswith(_PNG_SIGNATURE):
        try:
            from PIL import Image

            with Image.open(path) as image:
                return str(image.info.get("Software", "")).startswith(PNG_SOFTWARE)
        except (ImportError, OSError):
            return False
    return head.startswith(TEXT_MARKER.encode())


def check_output(destination: str | Path, overwrite: bool = False) -> Path:
    """Refuse, before any work, a destination that exists without ``overwrite`` or was not written here.

    Raises
    ------
    FileExistsError
        With a one-line message naming the path and what to do.
    """
    destination = Path(destination)
    if not os.path.lexists(destination):
        return destination
    if not overwrite:
        raise FileExistsError(f"{destination} exists: choose another output or pass --overwrite (overwrite=True).")
    if not written_by_si_recsim(destination):
        raise FileExistsError(f"{destination} exists and was not written by si_recsim, so it is never replaced: "
                              "choose another output, or move it away yourself.")
    return destination


@contextmanager
def atomic_output(destination: str | Path, folder: bool = False, overwrite: bool = False,
                  keep_existing: bool = False) -> Iterator[Path]:
    """A temporary path to write ``destination`` under, published on success.

    Parameters
    ----------
    destination : str | Path
    folder : bool, default: False
        The temporary is an (empty) folder, else an empty file.
    overwrite : bool, default: False
        Replace an existing destination, only one this package wrote (see :func:`check_output`).
    keep_existing : bool, default: False
        For caches: when the destination exists at the end (written meanwhile by another process),
        keep it and drop this output.

    Yields
    ------
    temporary : Path
        Write the output there. Mark it as ours with :func:`mark_h5`, :func:`mark_folder` or
        :data:`TEXT_MARKER` (:func:`atomic_h5` and folder outputs do it for you).

    Raises
    ------
    FileExistsError
        The destination exists (or appeared during the run) and may not be replaced.
    """
    destination = Path(destination)
    remove_stale_temporaries(destination.parent)  # first: it may put back an output set aside by a killed run
    if not keep_existing:
        check_output(destination, overwrite)
    existed = os.path.lexists(destination)
    created = _make_parents(destination.parent)
    published = False
    try:
        temporary = _new_temporary(destination, "tmp", folder)
        try:
            yield temporary
            if folder:
                mark_folder(temporary)
            _flush(temporary)
            published = _publish(temporary, destination, overwrite and existed, keep_existing)
        finally:
            if os.path.lexists(temporary):
                _remove(temporary)
    finally:
        if not published:
            _remove_empty(created)


@contextmanager
def atomic_h5(file_path: str | Path, overwrite: bool = False, keep_existing: bool = False) -> Iterator[h5py.File]:
    """An HDF5 file written through :func:`atomic_output`, marked as written by si_recsim."""
    with atomic_output(file_path, overwrite=overwrite, keep_existing=keep_existing) as temporary:
        with h5py.File(temporary, "w") as file:
            mark_h5(file)
            yield file


def atomic_savez(file_path: str | Path, arrays: dict) -> None:
    """``numpy.savez`` of ``arrays`` through :func:`atomic_output` (a part file of our own: replaced freely)."""
    with atomic_output(file_path, keep_existing=True) as temporary:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)


def atomic_text(file_path: str | Path, text: str, overwrite: bool = False) -> Path:
    """``text`` written through :func:`atomic_output`; it must start with :data:`TEXT_MARKER`."""
    if not text.startswith(TEXT_MARKER):
        raise ValueError(f"text outputs start with {TEXT_MARKER!r}, so that --overwrite can recognise them.")
    with atomic_output(file_path, overwrite=overwrite) as temporary:
        temporary.write_text(text)
    return Path(file_path)


def mark_h5(file: h5py.File) -> None:
    """Record in ``file`` that this package wrote it."""
    file.attrs[MARKER_ATTRIBUTE] = writer_label()


def mark_folder(folder: Path) -> None:
    """Record in ``folder`` that this package wrote it."""
    (Path(folder) / MARKER_FILE).write_text(writer_label() + "\n")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries of dead si_recsim runs in ``folder``; put set-aside outputs back.

    Only names this module makes, from this host, whose process no longer exists, are touched.

    Returns
    -------
    removed : list of Path
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or match["host"] != _host_tag() or _alive(int(match["pid"]), int(match["start"])):
            continue
        path = Path(entry.path)
        original = folder / match["name"]
        if match["kind"] == "old" and not os.path.lexists(original):
            with contextlib.suppress(OSError):
                os.rename(path, original)
                continue
        _remove(path)
        removed.append(path)
    return removed


def _temporary_name(destination: Path, kind: str) -> Path:
    token = f"{_host_tag()}-{os.getpid()}-{_start_time(os.getpid())}-{secrets.token_hex(4)}"
    return destination.with_name(f".{destination.name}.si_recsim-{kind}-{token}{destination.suffix}")


def _new_temporary(destination: Path, kind: str, folder: bool) -> Path:
    temporary = _temporary_name(destination, kind)
    if folder:
        os.mkdir(temporary)
    else:
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o666))
    return temporary


def _publish(temporary: Path, destination: Path, replace: bool, keep_existing: bool) -> bool:
    """Move ``temporary`` onto ``destination`` (replacing it only with ``replace``); True when published."""
    if os.path.lexists(destination):
        if keep_existing:
            return False
        if not replace:
            raise _appeared(destination)
        check_output(destination, overwrite=True)
        if temporary.is_dir() or destination.is_dir():
            aside = _temporary_name(destination, "old")
            _rename_noreplace(destination, aside)
            try:
                _rename_noreplace(temporary, destination)
            except BaseException:
                with contextlib.suppress(OSError):
                    _rename_noreplace(aside, destination)
                raise
            _remove(aside)
        else:
            os.replace(temporary, destination)
    else:
        try:
            _rename_noreplace(temporary, destination)
        except FileExistsError:
            if keep_existing:
                return False
            raise _appeared(destination) from None
    _fsync_folder(destination.parent)
    return True


def _appeared(destination: Path) -> FileExistsError:
    return FileExistsError(f"{destination} appeared while this run was writing it and was left as it is: this run's "
                           "output is discarded; choose another output.")


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _rename_noreplace(source: Path, target: Path) -> None:
    """Rename that fails with FileExistsError when ``target`` exists (even an empty folder), atomically on Linux."""
    renameat2 = _renameat2()
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        error = ctypes.get_errno()
        if error == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, os.strerror(error), str(target))
        if error not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(error, os.strerror(error), str(source))
    if source.is_dir():
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", str(target))
        os.rename(source, target)
    else:
        try:
            os.link(source, target)  # fails when target exists
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
            os.rename(source, target)
            return
        os.unlink(source)


@functools.cache
def _renameat2():
    """libc's ``renameat2``, looked up once (None where the C library has none)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _flush(path: Path) -> None:
    """fsync a file, or every file and folder under a folder."""
    if path.is_dir():
        for root, _, files in os.walk(path):
            for name in files:
                _fsync_file(Path(root) / name)
            _fsync_folder(Path(root))
    else:
        _fsync_file(path)


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(descriptor)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; the ones created, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return 0


def _alive(pid: int, start: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start == 0 or _start_time(pid) in (0, start)
