"""Cell sources and geometry files: the segment geometry of many cells, a batch at a time.

Cells are :class:`si_recsim.physics.segments.CellSegments`.
A geometry file (HDF5) holds one group per population: ``node_ids``, ``offsets`` (rows of node i
are ``offsets[i]:offsets[i+1]``), ``starts``, ``ends`` (µm), ``section_ids``, ``neurite_types``,
``soma_centers`` and optionally ``diameters``.

Writers take cells from a *cell source*: anything with sorted ``node_ids`` and a
``batch(node_ids)`` giving a picklable object whose ``load()`` returns those cells
(:class:`CellList` in memory, :class:`GeometryFileCells` from a geometry file,
:class:`si_recsim.sonata.circuits.CircuitCells` from a SONATA circuit), so only a batch of cells is ever
in memory. A plain list of :class:`CellSegments` is accepted wherever a source is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import h5py
import numpy as np

from si_recsim.atomic import atomic_h5
from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5
from si_recsim.physics.segments import CellSegments


class CellSource(Protocol):
    """Cells of one population, loaded a batch at a time."""

    node_ids: np.ndarray

    def batch(self, node_ids: np.ndarray): ...


class CellList:
    """Cells held in memory, as a cell source."""

    def __init__(self, cells: Iterable[CellSegments]):
        self.cells = {cell.node_id: cell for cell in cells}
        self.node_ids = np.array(sorted(self.cells), dtype=np.int64)

    def batch(self, node_ids: np.ndarray) -> _LoadedBatch:
        return _LoadedBatch([self.cells[int(node_id)] for node_id in node_ids])


@dataclass
class _LoadedBatch:
    cells: list

    def load(self) -> list[CellSegments]:
        return self.cells


@dataclass
class LazyBatch:
    """Node ids of a source that loads them where the batch is processed."""

    source: object
    node_ids: np.ndarray

    def load(self) -> list[CellSegments]:
        return self.source.load(self.node_ids)


def as_source(cells) -> CellSource:
    """A cell source from a source or a list of :class:`CellSegments` (node ids must be unique)."""
    if hasattr(cells, "batch") and hasattr(cells, "node_ids"):
        return cells
    cells = list(cells)
    source = CellList(cells)
    if len(source.node_ids) != len(cells):
        raise InputError("A population lists a node id twice; give each cell once.")
    return source


def source_batches(source: CellSource, cells_per_batch: int) -> list:
    """Batches of ``cells_per_batch`` cells in node id order."""
    node_ids = source.node_ids
    return [source.batch(node_ids[first: first + cells_per_batch]) for first in range(0, len(node_ids), cells_per_batch)]


GEOMETRY_KEYS = ("starts", "ends", "section_ids", "neurite_types")


def write_geometry(populations: dict, file_path: str | Path, cells_per_batch: int = 512,
                   progress_bar: bool = False, overwrite: bool = False) -> Path:
    """Write cells' segments to a geometry file (rows ordered per cell, cells by node id).

    Parameters
    ----------
    populations : dict
        Population name → cell source or list of :class:`CellSegments`.
    file_path : str | Path
    cells_per_batch : int, default: 512
        Cells in memory at once.
    progress_bar : bool, default: False
    overwrite : bool, default: False
        Replace an existing file, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).
    """
    from tqdm.auto import tqdm

    with atomic_h5(file_path, overwrite=overwrite) as file:
        for population, cells in populations.items():
            source = as_source(cells)
            group = file.create_group(population)
            group.create_dataset("node_ids", data=source.node_ids.astype(np.uint64))
            datasets, offsets, centres, with_diameters = None, [0], [], True
            for batch in tqdm(source_batches(source, cells_per_batch), desc=f"geometry {population}",
                              disable=not progress_bar):
                loaded = [cell.ordered() for cell in batch.load()]
                rows = {key: np.concatenate([getattr(cell, key) for cell in loaded]) for key in GEOMETRY_KEYS}
                if datasets is None:
                    datasets = {key: _growing(group, key, rows[key]) for key in GEOMETRY_KEYS}
                    datasets["diameters"] = _growing(group, "diameters", np.zeros(0))
                for key in GEOMETRY_KEYS:
                    _append(datasets[key], rows[key])
                with_diameters &= all(cell.diameters is not None for cell in loaded)
                if with_diameters:
                    _append(datasets["diameters"], np.concatenate([cell.diameters for cell in loaded]))
                offsets.extend(offsets[-1] + np.cumsum([len(cell.starts) for cell in loaded]))
                centres.extend(cell.soma_center for cell in loaded)
            if datasets is not None and not with_diameters:
                del group["diameters"]
            group.create_dataset("offsets", data=np.asarray(offsets, dtype=np.int64))
            group.create_dataset("soma_centers", data=np.asarray(centres, dtype=float).reshape(-1, 3))
    return Path(file_path)


def _growing(group, key: str, example: np.ndarray):
    example = np.asarray(example)
    return group.create_dataset(key, shape=(0,) + example.shape[1:], maxshape=(None,) + example.shape[1:],
                                dtype=example.dtype, chunks=True)


def _append(dataset, values: np.ndarray) -> None:
    values = np.asarray(values)
    if len(values):
        dataset.resize(len(dataset) + len(values), axis=0)
        dataset[-len(values):] = values


class GeometryFileCells:
    """One population of a geometry file, as a cell source (a batch reads only its own rows)."""

    def __init__(self, file_path: str | Path, population: str):
        self.file_path, self.population = Path(file_path), population
        with h5py.File(self.file_path, "r") as file:
            if population not in file:
                raise InputError(f"{file_path} has no population {population!r}; it has {sorted(file)}.")
            stored_ids = file[population]["node_ids"][()].astype(np.int64)
            self._offsets = file[population]["offsets"][()].astype(np.int64)
        self._order = np.argsort(stored_ids, kind="stable")  # file position of each sorted id
        self.node_ids = stored_ids[self._order]

    def batch(self, node_ids: np.ndarray) -> _GeometryFileBatch:
        """The cells' file positions and row ranges, so that loading needs no index of the whole file."""
        node_ids = np.asarray(node_ids, dtype=np.int64)
        found = np.searchsorted(self.node_ids, node_ids)
        if np.any(found >= len(self.node_ids)) or np.any(self.node_ids[np.minimum(found, len(self.node_ids) - 1)]
                                                          != node_ids):
            raise InputError(f"{self.file_path} population {self.population} lacks some of nodes {node_ids[:10]}.")
        positions = self._order[found]
        return _GeometryFileBatch(self.file_path, self.population, node_ids, positions, self._offsets[positions],
                                  self._offsets[positions + 1])


@dataclass
class _GeometryFileBatch:
    file_path: Path
    population: str
    node_ids: np.ndarray
    positions: np.ndarray
    lows: np.ndarray
    highs: np.ndarray

    def load(self) -> list[CellSegments]:
        """One read per dataset over the span of the batch's rows (contiguous for batches in node order)."""
        first_row, first_cell = int(self.lows.min()), int(self.positions.min())
        with h5py.File(self.file_path, "r") as file:
            group = file[self.population]
            keys = GEOMETRY_KEYS + (("diameters",) if "diameters" in group else ())
            span = {key: group[key][first_row: int(self.highs.max())] for key in keys}
            centres = group["soma_centers"][first_cell: int(self.positions.max()) + 1]
        cells = []
        for node_id, position, low, high in zip(self.node_ids, self.positions, self.lows - first_row,
                                                self.highs - first_row):
            rows = {key: values[low:high] for key, values in span.items()}
            cells.append(CellSegments(int(node_id), centres[position - first_cell], *(rows[key] for key in GEOMETRY_KEYS),
                                      rows.get("diameters")))
        return cells


def geometry_file_populations(file_path: str | Path) -> dict[str, GeometryFileCells]:
    """Every population of a geometry file as a lazy cell source."""
    with open_h5(file_path, "a geometry file (write-positions)") as file:
        names = list(file)
    return {name: GeometryFileCells(file_path, name) for name in names}


def read_geometry(file_path: str | Path) -> dict[str, list[CellSegments]]:
    """Cells' segments from a geometry file, all in memory (see :class:`GeometryFileCells` for batches)."""
    return {name: source.batch(source.node_ids).load() for name, source in geometry_file_populations(file_path).items()}
