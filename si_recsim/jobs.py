"""Worker processes, sized by SpikeInterface's job tools.

``n_jobs`` means what it means in SpikeInterface (``-1`` every usable core, a float a fraction of
them, ``None`` the global job kwargs of ``spikeinterface.set_global_job_kwargs``), resolved by
``fix_job_kwargs``, which counts the cores this process may use (affinity and cgroup limits), not
the machine's.

Workers never outlive the process that started them: :func:`exit_with_parent` runs in every worker
of our pools (their initializer) and in any multiprocessing child that computes a simulated
recording (SpikeInterface's pools), so killing the parent, even with SIGKILL, ends them too.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from si_recsim.errors import InputError


def resolve_n_jobs(n_jobs: int | float | None) -> int:
    """The number of worker processes for ``n_jobs`` (at least 1, at most the usable cores).

    Raises
    ------
    InputError
        For 0, negative whole numbers other than -1, and fractions outside (0, 1].
    """
    from spikeinterface.core.job_tools import fix_job_kwargs

    whole = isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and (n_jobs == -1 or n_jobs >= 1)
    fraction = isinstance(n_jobs, float) and 0 < n_jobs <= 1
    if n_jobs is not None and not (whole or fraction):
        raise InputError(f"n_jobs must be a positive number of processes, -1 (every usable core) or a fraction of "
                         f"the cores in (0, 1], got {n_jobs!r}.")
    return int(fix_job_kwargs({} if n_jobs is None else {"n_jobs": n_jobs})["n_jobs"])


def process_pool(n_workers: int) -> ProcessPoolExecutor:
    """A pool of ``n_workers`` freshly spawned processes (no state inherited from the parent), which exit
    when the parent dies."""
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"), initializer=exit_with_parent)


PARENT_POLL_S = 0.5
_watching_in: int | None = None  # the process whose parent is watched


def exit_with_parent() -> None:
    """In a worker process: end it (``os._exit``) within :data:`PARENT_POLL_S` seconds of its parent's death.

    A daemon thread compares ``os.getppid()`` with the process that started this one
    (``multiprocessing.parent_process()``; a dead parent's children are re-parented), so a parent that
    died while the worker was still starting is noticed too. Idempotent; does nothing in a process
    multiprocessing did not start.
    """
    global _watching_in
    starter = multiprocessing.parent_process()
    if _watching_in == os.getpid() or starter is None or starter.pid is None:
        return
    _watching_in = os.getpid()
    parent = starter.pid

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="si_recsim-exit-with-parent", daemon=True).start()
