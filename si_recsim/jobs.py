"""Worker processes, sized by SpikeInterface's job tools.

``n_jobs`` means what it means in SpikeInterface (``-1`` every usable core, a float a fraction of
them, ``None`` the global job kwargs of ``spikeinterface.set_global_job_kwargs``), resolved by
``fix_job_kwargs``, which counts the cores this process may use (affinity and cgroup limits), not
the machine's.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def resolve_n_jobs(n_jobs: int | float | None) -> int:
    """The number of worker processes for ``n_jobs`` (at least 1, at most the usable cores)."""
    from spikeinterface.core.job_tools import fix_job_kwargs

    return int(fix_job_kwargs({} if n_jobs is None else {"n_jobs": n_jobs})["n_jobs"])


def process_pool(n_workers: int) -> ProcessPoolExecutor:
    """A pool of ``n_workers`` freshly spawned processes (no state inherited from the parent)."""
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"))
