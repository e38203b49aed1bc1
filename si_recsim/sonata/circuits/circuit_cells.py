"""Cells of a SONATA circuit as a cell source for weights and geometry files (no NEURON)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from si_recsim.errors import InputError
from si_recsim.physics.segments import CellSegments
from si_recsim.sonata.circuits.cell_segments import cell_segments
from si_recsim.sonata.circuits.discretisation import ReportDiscretisation, RuleDiscretisation
from si_recsim.sonata.circuits.morphology import load_morphologies
from si_recsim.sonata.circuits.nodes import biophysical_populations, node_placements, resolve_config, select_node_ids
from si_recsim.sonata.geometry_file import LazyBatch


class CircuitCells:
    """One population of a SONATA circuit, loaded a batch of cells at a time.

    Picklable (paths and settings only), so worker processes and MPI ranks load their own cells.

    Parameters
    ----------
    config : str | Path
        SONATA circuit config, or a simulation config (its circuit, node sets file and node set).
    population : str
    node_set : str | None
        Node set name; default: the simulation config's, else every node.
    node_ids : array-like | None
        Explicit node ids (0-based), instead of a node set.
    report : str | Path | None
        Compartment report of the same circuit giving each cell's segments (recommended);
        default: :class:`~si_recsim.sonata.circuits.discretisation.RuleDiscretisation` ``rule``.
    rule : RuleDiscretisation | None
        Used without a report; default: ``RuleDiscretisation()`` (v5 templates).
    replace_axons : bool, default: True
        Lay the stub (and myelin) sections of BBP templates along the axon; False keeps the
        reconstructed axon (``--no-replace-axons``).
    morphology_format : "h5" | "asc" | "swc" | None
        Default: the first of h5, asc, swc whose file exists.
    """

    def __init__(self, config: str | Path, population: str, node_set: str | None = None, node_ids=None,
                 report: str | Path | None = None, rule: RuleDiscretisation | None = None,
                 replace_axons: bool = True, morphology_format: str | None = None):
        self.paths = resolve_config(config)
        populations = biophysical_populations(self.paths.circuit_config)
        if population not in populations:
            raise InputError(f"{config} has no biophysical population {population!r}; it has {populations}.")
        self.population = population
        self.node_ids = select_node_ids(self.paths, population, node_set, node_ids)
        self.discretisation = ReportDiscretisation(report, population) if report is not None \
            else (rule or RuleDiscretisation())
        self.replace_axons = bool(replace_axons)
        self.morphology_format = morphology_format
        node_placements(self.paths.circuit_config, population, self.node_ids[:1], morphology_format)  # fail early

    def batch(self, node_ids: np.ndarray) -> LazyBatch:
        return LazyBatch(self, np.asarray(node_ids, dtype=np.int64))

    def load(self, node_ids: np.ndarray) -> list[CellSegments]:
        """Segments of ``node_ids``, in that order."""
        node_ids = np.asarray(node_ids, dtype=np.int64)
        placements = node_placements(self.paths.circuit_config, self.population, node_ids, self.morphology_format)
        morphologies = load_morphologies(placements.morphology_paths)
        layouts = self.discretisation.layouts(node_ids, morphologies, self.replace_axons)
        return [cell_segments(node_id, morphology, position, rotation, layout, self.replace_axons)
                for node_id, morphology, position, rotation, layout in
                zip(node_ids, morphologies, placements.positions, placements.rotations, layouts)]


def circuit_populations(config: str | Path, populations: list[str] | None = None, node_set: str | None = None,
                        reports: dict | str | Path | None = None, **options) -> dict[str, CircuitCells]:
    """Every biophysical population of a circuit (or those named) with cells in the node set.

    Parameters
    ----------
    config : str | Path
        Circuit or simulation config.
    populations : list of str | None
    node_set : str | None
    reports : str | Path | dict | None
        One compartment report for all populations, or population → report.
    **options
        Passed to :class:`CircuitCells` (``rule``, ``replace_axons``, ``morphology_format``).
    """
    paths = resolve_config(config)
    available = biophysical_populations(paths.circuit_config)
    names = populations or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise InputError(f"{config} has no biophysical population(s) {unknown}; it has {available}.")
    result = {}
    for name in names:
        report = reports.get(name) if isinstance(reports, dict) else reports
        cells = CircuitCells(config, name, node_set=node_set, report=report, **options)
        if len(cells.node_ids):
            result[name] = cells
    if not result:
        raise InputError(f"No cells of {names} in node set {node_set or paths.node_set!r}.")
    return result
