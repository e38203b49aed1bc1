"""The SONATA electrodes file ("weights file") neurodamus reads for online LFP/EEG reports.

Layout (BlueRecording 0.7.0's, which neurodamus reads)::

    /<population>/node_ids                        uint64 (n_nodes,)       sorted here
    /<population>/offsets                         int64 (n_nodes + 1,)    rows of node i: offsets[i]:offsets[i+1]
    /<population>/neurite_types                   int32 (n_rows,)         only with_neurite_types
    /electrodes/<population>/scaling_factors      float64 (n_rows, n_electrodes)
    /electrodes/<name>/<population>               int64 scalar            column of the electrode
    /electrodes/<name>/position                   float64 (3,)            µm
    /electrodes/<name>/type, region, layer        UTF-8 string scalars    (radius / thickness attributes on type)

Rows of a node are its compartments ordered by section id, then segment. Coefficients are in V/nA
by default (what BlueRecording writes, although the SONATA text says mV/nA), so the LFP report of a
simulation using the file is in volts whatever its unit label says; ``units="mV/nA"`` gives
millivolts. Cells are loaded and computed in batches, so memory is bounded by a batch whatever the
circuit; ``scaling_factors`` grows by batch (chunked) and ``offsets`` is written last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from si_recsim.atomic import atomic_h5
from si_recsim.weights.coefficients import batch_coefficients
from si_recsim.weights.electrodes import Electrode, validate_electrodes
from si_recsim.weights.geometry import as_source, source_batches

DEFAULT_SIGMA = 0.277  # S/m, BlueRecording's default
CELLS_PER_BATCH = 512


def _sigmas(sigma, n_electrodes: int) -> np.ndarray:
    values = np.atleast_1d(np.asarray(sigma, dtype=float))
    if values.size == 1:
        values = np.full(n_electrodes, values[0])
    if values.size != n_electrodes:
        raise ValueError(f"Give one conductivity, or one per electrode ({n_electrodes}); got {values.size}.")
    if np.any(~np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"Conductivities must be positive, in S/m; got {values.tolist()}.")
    return values


def write_electrodes_file(populations: dict, electrodes: list[Electrode], file_path: str | Path,
                          sigma=DEFAULT_SIGMA, units: str = "V/nA", with_neurite_types: bool = False,
                          array_indices: list[str] | None = None, lead_fields: list | None = None,
                          progress_bar: bool = False, n_jobs: int = 1, mpi: bool = False,
                          cells_per_batch: int = CELLS_PER_BATCH) -> Path | None:
    """Compute coefficients for every compartment and electrode and write the electrodes file.

    Parameters
    ----------
    populations : dict
        Population name → cells: a list of :class:`CellSegments` or a cell source
        (:class:`~si_recsim.weights.geometry.GeometryFileCells`, :class:`~si_recsim.circuits.CircuitCells`),
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
    n_jobs : int, default: 1
        Processes computing batches of cells (-1: all cores).
    mpi : bool, default: False
        Spread batches over the MPI ranks of ``MPI.COMM_WORLD`` (mpi4py, run under ``mpirun``): each
        round, every rank loads and computes one batch; with an MPI-enabled h5py (parallel HDF5) every
        rank writes its rows into the file itself (MPI-IO), otherwise rank 0 gathers and writes them,
        so the plain h5py wheel is enough. Memory stays at one batch per rank. Rank 0 returns the
        path, the others None.
    cells_per_batch : int, default: 512
        Cells loaded and computed at once (bounds memory).

    Returns
    -------
    file_path : Path | None
        The file is the same whatever ``n_jobs``, ``cells_per_batch`` and the number of ranks.
    """
    validate_electrodes(electrodes, tuple(populations))
    sigmas = _sigmas(sigma, len(electrodes))
    fields = _lead_fields(electrodes, lead_fields or [])
    if int(cells_per_batch) < 1:
        raise ValueError(f"cells_per_batch must be at least 1, got {cells_per_batch}.")
    sources = {population: as_source(cells) for population, cells in populations.items()}
    task = _BatchTask(electrodes, sigmas, units, array_indices, fields)
    batches = {population: source_batches(source, int(cells_per_batch)) for population, source in sources.items()}
    if mpi:
        from mpi4py import MPI

        from si_recsim.weights.mpi_writing import write_with_mpi

        communicator = MPI.COMM_WORLD
        if communicator.Get_size() > 1:
            return write_with_mpi(communicator, sources, batches, task, file_path, with_neurite_types, electrodes,
                                  progress_bar)
    return write_blocks(sources, batches, file_path, with_neurite_types, electrodes, progress_bar,
                  _local_blocks(task, n_jobs))


class _BatchTask:
    """Loads one batch of cells and computes its coefficients (picklable, for workers and ranks)."""

    def __init__(self, electrodes, sigmas, units, array_indices, fields):
        self.arguments = (electrodes, sigmas, units, array_indices, fields)

    def __call__(self, batch) -> _Block:
        cells = [cell.ordered() for cell in batch.load()]
        return _Block(np.array([len(cell.starts) for cell in cells], dtype=np.int64),
                      np.concatenate([cell.neurite_types for cell in cells]).astype(np.int32),
                      batch_coefficients(cells, *self.arguments))


@dataclass
class _Block:
    counts: np.ndarray
    neurite_types: np.ndarray
    factors: np.ndarray


def _local_blocks(task: _BatchTask, n_jobs: int):
    """A function giving the coefficient blocks of a list of batches, in order."""
    import os

    n_jobs = os.cpu_count() if n_jobs == -1 else max(1, int(n_jobs))

    def blocks(batches):
        if n_jobs == 1 or len(batches) < 2:
            yield from map(task, batches)
            return
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
            yield from pool.map(task, batches)

    return blocks


def write_blocks(sources, batches, file_path, with_neurite_types, electrodes, progress_bar, blocks) -> Path:
    """Write the file from ``blocks(batches[population])``, an iterator of computed batches in order."""
    from tqdm.auto import tqdm

    with atomic_h5(file_path) as file:
        for population, source in sources.items():
            factors, types = create_population(file, population, source.node_ids, len(electrodes), with_neurite_types)
            counts = []
            for block in tqdm(blocks(batches[population]), total=len(batches[population]),
                              desc=f"weights {population}", disable=not progress_bar):
                low = len(factors)
                factors.resize(low + len(block.factors), axis=0)
                factors[low:] = block.factors
                if types is not None:
                    types.resize(low + len(block.factors), axis=0)
                    types[low:] = block.neurite_types
                counts.append(block.counts)
            write_offsets(file, population, source.node_ids, counts)
        write_electrode_groups(file, electrodes, list(sources))
    return Path(file_path)


def create_population(file: h5py.File, population: str, node_ids: np.ndarray, n_electrodes: int,
                      with_neurite_types: bool):
    """``/<population>/node_ids`` and empty, growable ``scaling_factors`` (and ``neurite_types``)."""
    rows_per_chunk = max(1, 2 ** 17 // n_electrodes)  # ~1 MB chunks
    group = file.create_group(population)
    group.create_dataset("node_ids", data=node_ids.astype(np.uint64))
    factors = file.create_dataset(f"electrodes/{population}/scaling_factors", shape=(0, n_electrodes),
                                  maxshape=(None, n_electrodes), chunks=(rows_per_chunk, n_electrodes),
                                  dtype=np.float64)
    types = group.create_dataset("neurite_types", shape=(0,), maxshape=(None,), chunks=(rows_per_chunk,),
                                 dtype=np.int32) if with_neurite_types else None
    return factors, types


def write_offsets(file: h5py.File, population: str, node_ids: np.ndarray, counts: list) -> None:
    """``/<population>/offsets`` from the per-cell row counts of the blocks, in node order."""
    counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    if len(counts) != len(node_ids):
        raise RuntimeError(f"Population {population}: {len(counts)} cells computed for {len(node_ids)} node ids.")
    file[population].create_dataset("offsets", data=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def write_electrode_groups(file: h5py.File, electrodes: list[Electrode], populations: list[str]) -> None:
    """Per-electrode groups: column per population, position, type (radius / thickness), region, layer."""
    for column, electrode in enumerate(electrodes):
        group = file.create_group(f"electrodes/{electrode.name}")
        for population in populations:
            group.create_dataset(population, data=np.int64(column))
        group.create_dataset("position", data=np.asarray(electrode.position, dtype=np.float64))
        kind = group.create_dataset("type", data=electrode.type, dtype=h5py.string_dtype())
        if electrode.radius is not None:
            kind.attrs["radius"] = float(electrode.radius)
        if electrode.thickness is not None:
            kind.attrs["thickness"] = float(electrode.thickness)
        group.create_dataset("region", data=electrode.region, dtype=h5py.string_dtype())
        group.create_dataset("layer", data=electrode.layer, dtype=h5py.string_dtype())


def _lead_fields(electrodes: list[Electrode], files: list) -> dict:
    """Lead fields for the reciprocity electrodes, consumed in table order; checked before any work."""
    from si_recsim.weights.lead_field import LeadField

    needing = [index for index, electrode in enumerate(electrodes)
               if electrode.type in ("Reciprocity", "DipoleReciprocity")]
    if len(files) != len(needing):
        raise ValueError(f"{len(needing)} Reciprocity/DipoleReciprocity electrodes need one lead-field file each, in "
                         f"table order; got {len(files)} (--lead-field).")
    return {index: LeadField(path) for index, path in zip(needing, files)}


def read_electrodes_file(file_path: str | Path) -> dict:
    """An electrodes file as ``{"populations": {pop: {node_ids, offsets, scaling_factors[, neurite_types]}},
    "electrodes": {name: {position, type, layer, region, columns: {pop: column}}}}``.

    Older BlueRecording files (an extra all-ones last column) are read too.
    """
    result = {"populations": {}, "electrodes": {}}
    with h5py.File(file_path, "r") as file:
        populations = [name for name in file if name != "electrodes"]
        for population in populations:
            data = {key: file[population][key][()] for key in file[population]}
            data["scaling_factors"] = file[f"electrodes/{population}/scaling_factors"][()]
            result["populations"][population] = data
        for name, group in file["electrodes"].items():
            if name in populations:
                continue

            def text(key, group=group):
                if key not in group:
                    return "NA"
                value = group[key][()]
                return value.decode() if isinstance(value, bytes) else str(value)

            columns = {population: int(np.asarray(group[population][()]).ravel()[0]) for population in populations
                       if population in group and isinstance(group[population], h5py.Dataset)}
            result["electrodes"][name] = dict(position=group["position"][()] if "position" in group else None,
                                              type=text("type"), layer=text("layer"), region=text("region"),
                                              columns=columns)
    for data in result["populations"].values():
        if data["scaling_factors"].shape[1] == len(result["electrodes"]) + 1 and \
                np.all(data["scaling_factors"][:, -1] == 1):
            data["scaling_factors"] = data["scaling_factors"][:, :-1]
    return result


def compare_electrodes_files(first: str | Path, second: str | Path, rtol: float = 1e-9,
                             atol: float = 0.0) -> list[str]:
    """Differences between two electrodes files, whatever their node order (empty list: equal).

    Nodes are matched by id and electrodes by name; coefficients must agree within
    ``|a - b| <= atol + rtol * |b|``.
    """
    a, b = read_electrodes_file(first), read_electrodes_file(second)
    problems = []
    if set(a["electrodes"]) != set(b["electrodes"]):
        problems.append(f"electrodes differ: {sorted(set(a['electrodes']) ^ set(b['electrodes']))}")
    if set(a["populations"]) != set(b["populations"]):
        problems.append(f"populations differ: {sorted(set(a['populations']) ^ set(b['populations']))}")
    names = sorted(set(a["electrodes"]) & set(b["electrodes"]))
    for population in sorted(set(a["populations"]) & set(b["populations"])):
        rows_a, rows_b = _rows_by_node(a, population, names), _rows_by_node(b, population, names)
        if set(rows_a) != set(rows_b):
            problems.append(f"{population}: node ids differ ({len(set(rows_a) ^ set(rows_b))} not in both)")
        for node in sorted(set(rows_a) & set(rows_b)):
            block_a, block_b = rows_a[node], rows_b[node]
            if block_a.shape != block_b.shape:
                problems.append(f"{population} node {node}: {len(block_a)} rows vs {len(block_b)}")
                continue
            if not np.allclose(block_a, block_b, rtol=rtol, atol=atol):
                worst = np.nanmax(np.abs(block_a - block_b) / np.maximum(np.abs(block_b), 1e-300))
                problems.append(f"{population} node {node}: coefficients differ (largest relative difference "
                                f"{worst:.3g})")
    return problems


def _rows_by_node(data: dict, population: str, names: list[str]) -> dict[int, np.ndarray]:
    table = data["populations"][population]
    columns = [data["electrodes"][name]["columns"].get(population, 0) for name in names]
    factors = table["scaling_factors"][:, columns]
    offsets = table["offsets"]
    return {int(node): factors[offsets[index]: offsets[index + 1]] for index, node in enumerate(table["node_ids"])}
