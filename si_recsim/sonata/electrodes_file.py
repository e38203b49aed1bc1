"""Writing the SONATA electrodes file ("weights file") neurodamus reads for online LFP/EEG reports.

The layout is described in :mod:`si_recsim.sonata.electrodes_file_layout`. Cells are loaded and
computed in batches, so memory is bounded by a batch whatever the circuit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from si_recsim.errors import InputError
from si_recsim.jobs import process_pool, resolve_n_jobs
from si_recsim.sonata.coefficients import batch_coefficients
from si_recsim.sonata.electrodes import Electrode, validate_electrodes
from si_recsim.sonata.electrodes_file_layout import Block, write_blocks
from si_recsim.sonata.geometry_file import as_source, source_batches

DEFAULT_SIGMA = 0.277  # S/m, BlueRecording's default
CELLS_PER_BATCH = 512


def _sigmas(sigma, n_electrodes: int) -> np.ndarray:
    values = np.atleast_1d(np.asarray(sigma, dtype=float))
    if values.size == 1:
        values = np.full(n_electrodes, values[0])
    if values.size != n_electrodes:
        raise InputError(f"Give one conductivity, or one per electrode ({n_electrodes}); got {values.size}.")
    if np.any(~np.isfinite(values)) or np.any(values <= 0):
        raise InputError(f"Conductivities must be positive, in S/m; got {values.tolist()}.")
    return values


def write_electrodes_file(populations: dict, electrodes: list[Electrode], file_path: str | Path,
                          sigma=DEFAULT_SIGMA, units: str = "V/nA", with_neurite_types: bool = False,
                          array_indices: list[str] | None = None, lead_fields: list | None = None,
                          progress_bar: bool = False, n_jobs: int | float | None = None, mpi: bool = False,
                          cells_per_batch: int = CELLS_PER_BATCH, overwrite: bool = False) -> Path | None:
    """Compute coefficients for every compartment and electrode and write the electrodes file.

    Parameters
    ----------
    populations : dict
        Population name → cells: a list of :class:`CellSegments` or a cell source
        (:class:`~si_recsim.sonata.geometry_file.GeometryFileCells`, :class:`~si_recsim.sonata.circuits.CircuitCells`),
        loaded one batch at a time.
    electrodes : list of Electrode
        Columns, in order.
    file_path : str | Path
    sigma : float | list of float, default: 0.277
        Extracellular conductivity in S/m, one value or one per electrode.
    units : "V/nA" | "mV/nA", default: "V/nA"
    with_neurite_types : bool, default: False
        Add ``/<population>/neurite_types``.
    array_indices : list of str | None
        ObjectiveCSD arrays as "a:b" electrode index ranges.
    lead_fields : list of str | Path | None
        Lead-field files, one per Reciprocity / DipoleReciprocity electrode in table order.
    progress_bar : bool, default: False
    n_jobs : int | float | None, default: None
        Processes computing batches of cells, as in SpikeInterface (-1: every usable core; None:
        SpikeInterface's global job kwargs).
    mpi : bool, default: False
        Spread batches over the MPI ranks of ``MPI.COMM_WORLD`` (mpi4py, run under ``mpirun``): each
        round, every rank loads and computes one batch; with an MPI-enabled h5py (parallel HDF5) every
        rank writes its rows into the file itself (MPI-IO), otherwise rank 0 gathers and writes them,
        so the plain h5py wheel is enough. Memory stays at one batch per rank. Rank 0 returns the
        path, the others None.
    cells_per_batch : int, default: 512
        Cells loaded and computed at once (bounds memory).
    overwrite : bool, default: False
        Replace an existing file, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).

    Returns
    -------
    file_path : Path | None
        The file is the same whatever ``n_jobs``, ``cells_per_batch`` and the number of ranks.
    """
    electrodes = validate_electrodes(electrodes, tuple(populations))
    sigmas = _sigmas(sigma, len(electrodes))
    fields = _lead_fields(electrodes, lead_fields or [])
    if int(cells_per_batch) < 1:
        raise InputError(f"cells_per_batch must be at least 1, got {cells_per_batch}.")
    sources = {population: as_source(cells) for population, cells in populations.items()}
    task = _BatchTask(electrodes, sigmas, units, array_indices, fields)
    batches = {population: source_batches(source, int(cells_per_batch)) for population, source in sources.items()}
    if mpi:
        from mpi4py import MPI

        from si_recsim.sonata.mpi_writing import write_with_mpi

        communicator = MPI.COMM_WORLD
        if communicator.Get_size() > 1:
            return write_with_mpi(communicator, sources, batches, task, file_path, with_neurite_types, electrodes,
                                  progress_bar, overwrite)
    return write_blocks(sources, batches, file_path, with_neurite_types, electrodes, progress_bar,
                        _local_blocks(task, n_jobs), overwrite)


class _BatchTask:
    """Loads one batch of cells and computes its coefficients (picklable, for workers and ranks)."""

    def __init__(self, electrodes, sigmas, units, array_indices, fields):
        self.arguments = (electrodes, sigmas, units, array_indices, fields)

    def __call__(self, batch) -> Block:
        cells = [cell.ordered() for cell in batch.load()]
        return Block(np.array([len(cell.starts) for cell in cells], dtype=np.int64),
                      np.concatenate([cell.neurite_types for cell in cells]).astype(np.int32),
                      batch_coefficients(cells, *self.arguments))


def _local_blocks(task: _BatchTask, n_jobs: int):
    """A function giving the coefficient blocks of a list of batches, in order."""
    n_jobs = resolve_n_jobs(n_jobs)

    def blocks(batches):
        if n_jobs == 1 or len(batches) < 2:
            yield from map(task, batches)
            return
        with process_pool(n_jobs) as pool:
            yield from pool.map(task, batches)

    return blocks


def _lead_fields(electrodes: list[Electrode], files: list) -> dict:
    """Lead fields for the reciprocity electrodes, consumed in table order; checked before any work."""
    from si_recsim.sonata.lead_field import LeadField

    needing = [index for index, electrode in enumerate(electrodes)
               if electrode.type in ("Reciprocity", "DipoleReciprocity")]
    if len(files) != len(needing):
        raise InputError(f"{len(needing)} Reciprocity/DipoleReciprocity electrodes need one lead-field file each, in "
                         f"table order; got {len(files)} (--lead-field).")
    return {index: LeadField(path) for index, path in zip(needing, files)}
