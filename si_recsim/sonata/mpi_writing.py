"""Electrodes files written by several MPI ranks (mpi4py), identical to a single-process file.

Every round, each rank loads and computes one batch of cells (batches are dealt in node order).
Then either

* **MPI-IO** (h5py built against parallel HDF5, ``h5py.get_config().mpi``): the ranks share the row
  counts of the round, grow the datasets together and each writes its own rows into the temporary
  file; the per-electrode groups (variable-length strings, which parallel HDF5 cannot write) are
  added by rank 0 alone afterwards; or
* **streamed to rank 0** (the plain h5py wheel): rank 0 writes its block, then receives and writes
  the other ranks' blocks one at a time, in rank order, as raw arrays (no pickled copies): it holds
  at most its own block and one received block, whatever the number of ranks.

Rank 0 owns the temporary file (:func:`si_recsim.atomic.atomic_output`) and publishes it when every
rank has finished. An error on any rank aborts the whole MPI job (``MPI_Abort``) after printing it,
instead of leaving the other ranks waiting in a collective call; the output path is then never written.
"""

from __future__ import annotations

import sys
import traceback
from contextlib import ExitStack, contextmanager
from pathlib import Path

import h5py
import numpy as np

from si_recsim.atomic import atomic_output, mark_h5
from si_recsim.sonata.electrodes_file_layout import (
    Block,
    create_population,
    write_blocks,
    write_electrode_groups,
    write_offsets,
)


def mpi_write_mode() -> str:
    """``"MPI-IO"`` when h5py is built on parallel HDF5, else ``"gathered to rank 0"``."""
    return "MPI-IO" if h5py.get_config().mpi else "gathered to rank 0"


def write_with_mpi(communicator, sources, batches, task, file_path, with_neurite_types, electrodes,
                   progress_bar, overwrite: bool = False) -> Path | None:
    """Write with every rank of ``communicator``; rank 0 returns the path, the others None."""
    with _abort_on_error(communicator):
        if mpi_write_mode() == "MPI-IO":
            return _write_with_mpi_io(communicator, sources, batches, task, Path(file_path), with_neurite_types,
                                      electrodes, progress_bar, overwrite)
        return _write_gathered(communicator, sources, batches, task, file_path, with_neurite_types, electrodes,
                               progress_bar, overwrite)


@contextmanager
def _abort_on_error(communicator):
    try:
        yield
    except Exception:
        print(f"rank {communicator.Get_rank()}: writing the electrodes file failed:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        communicator.Abort(1)
        raise


def _rounds(communicator, population_batches: list, task):
    """This rank's block (or None) for each round of ``size`` batches."""
    rank, size = communicator.Get_rank(), communicator.Get_size()
    for first in range(0, len(population_batches), size):
        mine = first + rank
        with _abort_on_error(communicator):  # before any collective call (closing the file) could wait for it
            block = task(population_batches[mine]) if mine < len(population_batches) else None
        yield block


def _write_gathered(communicator, sources, batches, task, file_path, with_neurite_types, electrodes, progress_bar,
                    overwrite):
    rank, size = communicator.Get_rank(), communicator.Get_size()

    def blocks(population_batches):
        for block in _rounds(communicator, population_batches, task):
            if rank != 0:
                _send_block(communicator, block)
                continue
            if block is not None:
                yield block
            block = None  # written: not held while the others arrive
            for source in range(1, size):
                received = _receive_block(communicator, source)
                if received is not None:
                    yield received
                received = None

    if rank != 0:  # load, compute and send; rank 0 writes
        for population_batches in batches.values():
            for _ in blocks(population_batches):
                pass
        communicator.Barrier()
        return None
    path = write_blocks(sources, batches, file_path, with_neurite_types, electrodes, progress_bar, blocks, overwrite)
    communicator.Barrier()
    return path


_COUNTS, _TYPES, _FACTORS = 11, 12, 13  # message tags of a block's arrays


def _send_block(communicator, block) -> None:
    """Send a computed block (or None) to rank 0: its shape, then its arrays as raw buffers."""
    communicator.send(None if block is None else (len(block.counts), block.factors.shape), dest=0)
    if block is not None:
        communicator.Send(np.ascontiguousarray(block.counts, dtype=np.int64), dest=0, tag=_COUNTS)
        communicator.Send(np.ascontiguousarray(block.neurite_types, dtype=np.int32), dest=0, tag=_TYPES)
        communicator.Send(np.ascontiguousarray(block.factors, dtype=np.float64), dest=0, tag=_FACTORS)


def _receive_block(communicator, source: int):
    """The block :func:`_send_block` sent from ``source`` (or None)."""
    shape = communicator.recv(source=source)
    if shape is None:
        return None
    n_cells, factors_shape = shape
    counts = np.empty(n_cells, dtype=np.int64)
    types = np.empty(factors_shape[0], dtype=np.int32)
    factors = np.empty(factors_shape, dtype=np.float64)
    communicator.Recv(counts, source=source, tag=_COUNTS)
    communicator.Recv(types, source=source, tag=_TYPES)
    communicator.Recv(factors, source=source, tag=_FACTORS)
    return Block(counts, types, factors)


def _write_with_mpi_io(communicator, sources, batches, task, file_path: Path, with_neurite_types, electrodes,
                       progress_bar, overwrite):
    with ExitStack() as stack:  # rank 0 owns the temporary (atomic_output) and publishes it
        rank = communicator.Get_rank()
        temporary = stack.enter_context(atomic_output(file_path, overwrite=overwrite)) if rank == 0 else None
        temporary = communicator.bcast(temporary, root=0)
        _write_rows(communicator, sources, batches, task, temporary, with_neurite_types, len(electrodes),
                    progress_bar)
        if rank == 0:  # the file is closed by every rank here
            with h5py.File(temporary, "a") as file:
                mark_h5(file)
                write_electrode_groups(file, electrodes, list(sources))
    communicator.Barrier()
    return file_path if rank == 0 else None


def _write_rows(communicator, sources, batches, task, temporary: Path, with_neurite_types, n_electrodes: int,
                progress_bar) -> None:
    from tqdm.auto import tqdm

    rank = communicator.Get_rank()
    with h5py.File(temporary, "w", driver="mpio", comm=communicator) as file:
        for population, source in sources.items():
            factors, types = create_population(file, population, source.node_ids, n_electrodes, with_neurite_types)
            counts = []
            rounds = _rounds(communicator, batches[population], task)
            for block in tqdm(rounds, total=-(-len(batches[population]) // communicator.Get_size()),
                              desc=f"weights {population}", disable=not (progress_bar and rank == 0)):
                shared = communicator.allgather(None if block is None else block.counts)
                rows = [0 if part is None else int(part.sum()) for part in shared]
                low = len(factors) + sum(rows[:rank])
                factors.resize(len(factors) + sum(rows), axis=0)  # collective
                if types is not None:
                    types.resize(len(types) + sum(rows), axis=0)
                if block is not None and rows[rank]:
                    factors[low: low + rows[rank]] = block.factors
                    if types is not None:
                        types[low: low + rows[rank]] = block.neurite_types
                counts.extend(part for part in shared if part is not None)
            write_offsets(file, population, source.node_ids, counts)
