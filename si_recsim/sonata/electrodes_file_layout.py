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
from si_recsim.sonata.electrodes import Electrode


@dataclass
class Block:
    """The computed rows of one batch of cells: segments per cell, neurite type and coefficients per row."""

    counts: np.ndarray
    neurite_types: np.ndarray
    factors: np.ndarray


def write_blocks(sources, batches, file_path, with_neurite_types, electrodes, progress_bar, blocks,
                 overwrite: bool = False) -> Path:
    """Write the file from ``blocks(batches[population])``, an iterator of computed batches in order."""
    from tqdm.auto import tqdm

    with atomic_h5(file_path, overwrite=overwrite) as file:
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
