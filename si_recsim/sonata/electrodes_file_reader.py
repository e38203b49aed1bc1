"""Reading and comparing electrodes files (layout: :mod:`si_recsim.sonata.electrodes_file_layout`)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from si_recsim.h5_input import open_h5


def read_electrodes_file(file_path: str | Path) -> dict:
    """An electrodes file as ``{"populations": {pop: {node_ids, offsets, scaling_factors[, neurite_types]}},
    "electrodes": {name: {position, type, layer, region, columns: {pop: column}}}}``.

    Older BlueRecording files (an extra all-ones last column) are read too.
    """
    result = {"populations": {}, "electrodes": {}}
    with open_h5(file_path, "an electrodes file") as file:
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
        rows_a, rows_b = rows_by_node(a, population, names), rows_by_node(b, population, names)
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


def rows_by_node(data: dict, population: str, names: list[str]) -> dict[int, np.ndarray]:
    """Node id → its rows of ``data`` (:func:`read_electrodes_file`), columns of electrodes ``names``."""
    table = data["populations"][population]
    columns = [data["electrodes"][name]["columns"].get(population, 0) for name in names]
    factors = table["scaling_factors"][:, columns]
    offsets = table["offsets"]
    return {int(node): factors[offsets[index]: offsets[index + 1]] for index, node in enumerate(table["node_ids"])}
