#!/usr/bin/env bash
# A second virtual environment whose h5py is built on parallel HDF5 (MPI-IO), to test the
# electrodes-file writer's MPI-IO path, which the plain h5py wheel never takes.
#
#   bash tools/parallel_h5py_env.sh [ENV_DIR]      (default: .venv-mpiio)
#   export SI_RECSIM_MPIIO_PYTHON=ENV_DIR/bin/python
#
# Needs Debian's Open MPI and parallel HDF5 (installed with apt-get when missing and run as root)
# and about 4 minutes, most of it compiling h5py.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_DIR="${1:-.venv-mpiio}"
HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/openmpi

if [ ! -d "$HDF5_DIR" ] || ! command -v mpicc >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Install libhdf5-openmpi-dev, openmpi-bin and libopenmpi-dev (as root), then run again." >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libhdf5-openmpi-dev openmpi-bin libopenmpi-dev pkg-config >/dev/null
fi

python3 -m venv "$ENV_DIR"
"$ENV_DIR/bin/python" -m pip install --quiet --upgrade pip setuptools
"$ENV_DIR/bin/python" -m pip install --quiet cython numpy pkgconfig wheel mpi4py
CC=mpicc MPICC=mpicc HDF5_MPI=ON HDF5_DIR="$HDF5_DIR" \
    "$ENV_DIR/bin/python" -m pip install --quiet --no-cache-dir --no-binary=h5py --no-build-isolation h5py
"$ENV_DIR/bin/python" -m pip install --quiet .
"$ENV_DIR/bin/python" -c "import h5py, sys; sys.exit(0 if h5py.get_config().mpi else 'h5py was built without MPI')"
echo "parallel h5py environment ready: $ENV_DIR/bin/python"
