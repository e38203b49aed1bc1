import os

import pytest
from spikeinterface.core import get_global_job_kwargs, set_global_job_kwargs

from si_recsim.jobs import resolve_n_jobs


@pytest.fixture
def restore_global_job_kwargs():
    saved = get_global_job_kwargs()
    yield
    set_global_job_kwargs(**saved)


def test_n_jobs_follows_spikeinterface(restore_global_job_kwargs):
    usable = len(os.sched_getaffinity(0))
    assert resolve_n_jobs(-1) == usable
    assert resolve_n_jobs(1) == 1
    assert resolve_n_jobs(10_000) == usable  # never more than the usable cores
    set_global_job_kwargs(n_jobs=2)
    assert resolve_n_jobs(None) == min(2, usable)
    set_global_job_kwargs(n_jobs=1)
    assert resolve_n_jobs(None) == 1
