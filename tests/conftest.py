"""Shared fixtures.

Peer data that the project did not make (MEArec template library, neurodamus circuits) is read
from ``../shared/data`` (or ``$SI_RECSIM_SHARED_DATA``) through :func:`shared_data`. Elsewhere those
tests skip with a reason; under CI (``CI=true``) missing data is a failure.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def _missing(message: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def run_mpi():
    """Run ``python -m si_recsim.cli ARGS`` on 2 MPI ranks; return the CompletedProcess.

    The launcher is the one matching mpi4py: the one installed beside this Python (the ``mpich``
    wheel of the test extras) before any system launcher on PATH, which may belong to another MPI.
    The children get an explicit copy of ``os.environ`` without launcher variables: a native library
    (NEURON's MPI layer loading a system Open MPI) can ``setenv`` PMIx variables in this process,
    and inherited they make MPICH abort at start-up.
    """
    pytest.importorskip("mpi4py")
    beside = Path(sys.executable).parent / "mpiexec"
    launcher = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if launcher is None:
        _missing("no mpiexec found (install the test extras: pip install '.[test]')")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PMI", "OMPI_", "HYDRA_"))}

    def run(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [launcher, "-n", "2", sys.executable, "-m", "si_recsim.cli", *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, env=environment)

    return run


@pytest.fixture(scope="session")
def run_mpiio():
    """Run ``python -m si_recsim.cli ARGS`` on 2 ranks with the Python of a parallel-h5py environment
    (``$SI_RECSIM_MPIIO_PYTHON``, made by ``tools/parallel_h5py_env.sh`` and by CI) and the system
    Open MPI it is built on."""
    python = os.environ.get("SI_RECSIM_MPIIO_PYTHON")
    if not python or not Path(python).is_file():
        _missing("no parallel-h5py Python: run bash tools/parallel_h5py_env.sh and set SI_RECSIM_MPIIO_PYTHON")
    launcher = shutil.which("mpirun", path="/usr/bin") or shutil.which("mpirun")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PMI", "HYDRA_"))}
    environment.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    def run(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [launcher, "--oversubscribe", "-n", "2", python, "-m", "si_recsim.cli", *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, env=environment)

    return run


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = Path(os.environ.get("SI_RECSIM_SHARED_DATA", REPOSITORY.parent / "shared" / "data"))
    if not folder.is_dir():
        _missing(f"peer data folder {folder} not found (set SI_RECSIM_SHARED_DATA)")
    return folder


def _peer_path(shared_data: Path, relative: str, expected: str, what: str) -> Path:
    """``shared_data / relative`` when ``expected`` exists inside it."""
    path = shared_data / relative
    if not (path / expected if expected else path).is_file():
        _missing(f"{what} not found at {path}")
    return path


@pytest.fixture(scope="session")
def mearec_library_path(shared_data) -> Path:
    return _peer_path(shared_data, "mearec/templates_n5_Neuronexus-32_seed0.h5", "", "MEArec template library")


@pytest.fixture(scope="session")
def v5_sonata(shared_data) -> Path:
    """neurodamus' 5-cell v5 SONATA test circuit with its simulation config and reference reports."""
    return _peer_path(shared_data, "neurodamus_tests/v5_sonata", "simulation_config_mini.json",
                      "neurodamus v5_sonata test circuit")


@pytest.fixture(scope="session")
def ringtest(shared_data) -> Path:
    """neurodamus' ring test: electrodes files and reference LFP and compartment reports."""
    return _peer_path(shared_data, "neurodamus_tests/ringtest", "reference/lfp_reports/lfp_single_A.h5",
                      "neurodamus ringtest data")
