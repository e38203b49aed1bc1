"""Diagnostics of electrodes files: structure checks, coefficient summaries, comparisons per neurite type.

Files are read a block of rows at a time (about 64 MB), so circuit-sized files are inspected in
bounded memory. Neurite types come from ``/<population>/neurite_types`` when the file has them
(``write-weights --with-neurite-type``); otherwise every row counts as one group, ``all``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from si_recsim.h5_input import open_h5
from si_recsim.sonata.electrodes import ElectrodeError, make_electrode
from si_recsim.sonata.electrodes_file_reader import read_electrodes_file, rows_by_node

NEURITE_NAMES = {0: "soma", 1: "axon", 2: "basal", 3: "apical", 6: "myelin"}
#: decades of |coefficient| in the histograms (log10 bin edges)
HISTOGRAM_EDGES = np.arange(-16.0, 1.01, 0.25)
_BYTES_PER_READ = 2**26
WHAT = "a SONATA electrodes file"


def _populations(file: h5py.File) -> list[str]:
    return sorted(name for name in file if name != "electrodes" and isinstance(file[name], h5py.Group))


def _row_blocks(factors: h5py.Dataset):
    rows = max(1, _BYTES_PER_READ // (8 * max(1, factors.shape[1])))
    for low in range(0, factors.shape[0], rows):
        yield low, factors[low: low + rows]


def validate_electrodes_file(file_path: str | Path, report: str | Path | None = None) -> list[str]:
    """Problems of an electrodes file's structure (an empty list: none found).

    Checks, per population: ``node_ids`` unique and sorted; ``offsets`` with one entry more than
    nodes, starting at 0, never decreasing, ending at the number of rows; every coefficient finite;
    ``neurite_types`` (when present) one per row; and, with ``report`` (a compartment report of the
    same cells), rows per node equal to the report's elements per node. Per electrode group: a
    name HDF5 and libsonata accept, one column per population, the columns together exactly
    ``0 .. n_electrodes - 1``.
    """
    problems = []
    file_path = Path(file_path)
    with open_h5(file_path, WHAT) as file:
        if "electrodes" not in file:
            return [f"{file_path.name}: no /electrodes group"]
        populations = _populations(file)
        if not populations:
            problems.append("no population groups (/<population>/node_ids, offsets)")
        widths = {}
        for population in populations:
            problems += _check_population(file, population, widths)
        problems += _check_electrode_groups(file, populations, widths)
    if report is not None and not problems:
        problems += _check_rows_against_report(file_path, report)
    return problems


def _check_population(file: h5py.File, population: str, widths: dict) -> list[str]:
    group, problems = file[population], []
    for key in ("node_ids", "offsets"):
        if key not in group:
            return [f"{population}: /{population}/{key} is missing"]
    if f"electrodes/{population}/scaling_factors" not in file:
        return [f"{population}: /electrodes/{population}/scaling_factors is missing"]
    nodes, offsets = group["node_ids"][()].astype(np.int64), group["offsets"][()].astype(np.int64)
    factors = file[f"electrodes/{population}/scaling_factors"]
    widths[population] = factors.shape[1]
    if np.any(np.diff(nodes) <= 0):
        problems.append(f"{population}: node_ids are not unique and sorted")
    if len(offsets) != len(nodes) + 1:
        problems.append(f"{population}: {len(offsets)} offsets for {len(nodes)} nodes (needs {len(nodes) + 1})")
    elif offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != factors.shape[0]:
        problems.append(f"{population}: offsets must start at 0, never decrease and end at the {factors.shape[0]} "
                        f"rows (they run {offsets[0]} .. {offsets[-1]})")
    if "neurite_types" in group and len(group["neurite_types"]) != factors.shape[0]:
        problems.append(f"{population}: {len(group['neurite_types'])} neurite types for {factors.shape[0]} rows")
    for low, block in _row_blocks(factors):
        bad = ~np.isfinite(block)
        if bad.any():
            row = low + int(np.flatnonzero(bad.any(axis=1))[0])
            problems.append(f"{population}: {int(bad.sum())}+ coefficients are not finite (first in row {row})")
            break
    return problems


def _check_electrode_groups(file: h5py.File, populations: list, widths: dict) -> list[str]:
    problems, columns = [], {population: [] for population in populations}
    for name, group in file["electrodes"].items():
        if name in populations:
            continue
        try:
            make_electrode({"name": name, "x": 0, "y": 0, "z": 0}, f"electrode '{name}'")
        except ElectrodeError as error:
            problems.append(str(error))
        for population in populations:
            if population not in group:
                problems.append(f"electrode '{name}': no column for population {population}")
                continue
            columns[population].append(int(np.asarray(group[population][()]).ravel()[0]))
    for population, found in columns.items():
        width = widths.get(population)
        if width is not None and sorted(found) != list(range(width)) and sorted(found) != list(range(width - 1)):
            problems.append(f"{population}: electrode columns {sorted(found)[:10]} are not 0 .. {width - 1}, one each")
    return problems


def _check_rows_against_report(file_path: Path, report: str | Path) -> list[str]:
    from si_recsim.sonata.report_file import open_element_report

    reader, problems = open_element_report(report), []
    with open_h5(file_path, WHAT) as file:
        for population in _populations(file):
            if population not in reader.get_population_names():
                problems.append(f"{population}: not in the report {Path(report).name}")
                continue
            mapping = np.asarray(reader[population].get_node_id_element_id_mapping(), dtype=np.int64).reshape(-1, 2)
            reported, counts = np.unique(mapping[:, 0], return_counts=True)
            nodes, offsets = file[population]["node_ids"][()].astype(np.int64), file[population]["offsets"][()]
            rows = dict(zip(nodes.tolist(), np.diff(offsets).tolist()))
            wrong = [(node, rows.get(node), count) for node, count in zip(reported.tolist(), counts.tolist())
                     if node in rows and rows[node] != count]
            if wrong:
                node, have, want = wrong[0]
                problems.append(f"{population}: {len(wrong)} node(s) have rows unlike the report's elements "
                                f"(node {node}: {have} rows, {want} elements)")
    return problems


def summarise_electrodes_file(file_path: str | Path) -> dict:
    """Coefficient statistics of an electrodes file.

    Returns
    -------
    summary : dict
        ``{population: {"nodes", "rows", "electrodes", "names" (by column), "mean_abs" and "max_abs"
        (per electrode), "groups": {neurite type name: {"rows", "histogram" (counts of log10 |c| in
        HISTOGRAM_EDGES), "mean_abs", "zeros"}}}}``.
    """
    summary = {}
    with open_h5(file_path, WHAT) as file:
        populations = _populations(file)
        for population in populations:
            factors = file[f"electrodes/{population}/scaling_factors"]
            n_rows, n_electrodes = factors.shape
            types = file[population]["neurite_types"] if "neurite_types" in file[population] else None
            total, largest = np.zeros(n_electrodes), np.zeros(n_electrodes)
            groups: dict = {}
            for low, block in _row_blocks(factors):
                magnitude = np.abs(block)
                total += magnitude.sum(axis=0)
                largest = np.maximum(largest, magnitude.max(axis=0, initial=0.0))
                labels = types[low: low + len(block)] if types is not None else np.zeros(len(block), dtype=int)
                for code in np.unique(labels):
                    name = NEURITE_NAMES.get(int(code), f"type {int(code)}") if types is not None else "all"
                    values = magnitude[labels == code].ravel()
                    group = groups.setdefault(name, dict(rows=0, histogram=np.zeros(len(HISTOGRAM_EDGES) - 1, int),
                                                         sum_abs=0.0, zeros=0))
                    group["rows"] += int(np.count_nonzero(labels == code))
                    group["sum_abs"] += float(values.sum())
                    group["zeros"] += int(np.count_nonzero(values == 0))
                    positive = values[values > 0]
                    group["histogram"] += np.histogram(np.log10(positive), HISTOGRAM_EDGES)[0]
            for group in groups.values():
                group["mean_abs"] = group.pop("sum_abs") / max(1, group["rows"] * n_electrodes)
            names = [""] * n_electrodes
            for name, electrode in file["electrodes"].items():
                if name not in populations and population in electrode:
                    column = int(np.asarray(electrode[population][()]).ravel()[0])
                    if column < n_electrodes:
                        names[column] = name
            summary[population] = dict(nodes=len(file[population]["node_ids"]), rows=n_rows, electrodes=n_electrodes,
                                       names=names, mean_abs=total / max(1, n_rows), max_abs=largest, groups=groups)
    return summary


def compare_by_neurite_type(first: str | Path, second: str | Path) -> dict:
    """Coefficient differences between two electrodes files of the same cells, per neurite type.

    Nodes are matched by id and electrodes by name (node order and column order may differ).

    Returns
    -------
    dict
        ``{population: {neurite type name: {"rows", "max_abs_difference", "max_relative_difference",
        "correlation"}}}`` (relative to the largest |coefficient| of the second file in that group).
    """
    a, b = read_electrodes_file(first), read_electrodes_file(second)
    names = sorted(set(a["electrodes"]) & set(b["electrodes"]))
    result = {}
    for population in sorted(set(a["populations"]) & set(b["populations"])):
        rows_a, types_a = _aligned_rows(a, population, names)
        rows_b, _ = _aligned_rows(b, population, names)
        shared = sorted(set(rows_a) & set(rows_b))
        pairs = [(rows_a[node], rows_b[node], types_a[node]) for node in shared
                 if rows_a[node].shape == rows_b[node].shape]
        if not pairs:
            result[population] = {}
            continue
        block_a = np.concatenate([pair[0] for pair in pairs])
        block_b = np.concatenate([pair[1] for pair in pairs])
        labels = np.concatenate([pair[2] for pair in pairs])
        groups = {}
        for code in np.unique(labels):
            mine = labels == code
            x, y = block_a[mine].ravel(), block_b[mine].ravel()
            scale = max(float(np.abs(y).max(initial=0.0)), 1e-300)
            name = NEURITE_NAMES.get(int(code), f"type {int(code)}") if code >= 0 else "all"
            groups[name] = dict(rows=int(mine.sum()), max_abs_difference=float(np.abs(x - y).max(initial=0.0)),
                                max_relative_difference=float(np.abs(x - y).max(initial=0.0) / scale),
                                correlation=float(np.corrcoef(x, y)[0, 1]) if x.size > 1 and x.std() and y.std()
                                else float("nan"))
        result[population] = groups
    return result


def _aligned_rows(data: dict, population: str, names: list) -> tuple[dict, dict]:
    """:func:`rows_by_node`, and each node's neurite types (-1 where the file has none)."""
    table = data["populations"][population]
    types, offsets = table.get("neurite_types"), table["offsets"]
    labels = {int(node): types[offsets[index]: offsets[index + 1]] if types is not None
              else np.full(offsets[index + 1] - offsets[index], -1) for index, node in enumerate(table["node_ids"])}
    return rows_by_node(data, population, names), labels


def format_summary(summary: dict) -> str:
    """The summary as text: one line per population, neurite type and extreme electrode."""
    lines = []
    for population, data in summary.items():
        lines.append(f"{population}: {data['nodes']} nodes, {data['rows']} rows, {data['electrodes']} electrodes")
        for name, group in data["groups"].items():
            counts = group["histogram"]
            mode = HISTOGRAM_EDGES[int(np.argmax(counts))] if counts.any() else float("nan")
            lines.append(f"  {name:7s} {group['rows']:9d} rows, mean |c| {group['mean_abs']:.3g}, "
                         f"most |c| near 1e{mode:+.2f}, {group['zeros']} zeros")
        if data["electrodes"]:
            weakest, strongest = int(np.argmin(data["mean_abs"])), int(np.argmax(data["mean_abs"]))
            lines.append(f"  mean |c| per electrode from {data['mean_abs'][weakest]:.3g} ({data['names'][weakest]}) "
                         f"to {data['mean_abs'][strongest]:.3g} ({data['names'][strongest]})")
    return "\n".join(lines)
