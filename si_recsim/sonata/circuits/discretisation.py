"""How many segments neurodamus gives each section of a cell (the rows of the electrodes file).

Two sources:

* :class:`ReportDiscretisation`: a compartment report of the same circuit (any variable, e.g.
  ``i_membrane``) lists one element per segment with its section id; counting them per section gives
  the exact layout neurodamus instantiated, including the replaced-axon sections. This is the
  reliable choice.
* :class:`RuleDiscretisation`: without a report, BBP templates' ``geom_nseg_fixed(40)`` rule,
  ``nseg = 1 + 2 * floor(L / 40 µm)`` with ``L`` the section's path length, for every reconstructed
  section; the soma gets ``soma_segments``; a replaced axon gets two stub sections of
  ``stub_segments`` each and, when ``myelin_segments > 0``, a myelin section. Defaults match the
  v5 templates (soma 1, stubs 1, no myelin); newer templates (e.g. ``cADpyr_L5TPC``) use
  stubs 5 and myelin 5. Templates with other rules (d-lambda, fixed counts) need a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError
from si_recsim.sonata.circuits.morphology import AXON, NeuronMorphology
from si_recsim.sonata.report_file import open_element_report

_SAMPLE_NODES = 100  # cells whose report elements are counted before any cell is loaded


@dataclass(frozen=True)
class Layout:
    """Section ids (ascending) and their segment counts for one cell."""

    section_ids: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class RuleDiscretisation:
    """Segment counts from a length rule (see the module docstring)."""

    segment_length: float = 40.0
    soma_segments: int = 1
    stub_segments: int = 1
    myelin_segments: int = 0

    def __post_init__(self):
        if not self.segment_length > 0:
            raise InputError(f"segment_length must be positive (µm), got {self.segment_length}.")
        for name in ("soma_segments", "stub_segments"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if int(self.myelin_segments) < 0:
            raise InputError(f"myelin_segments must be 0 (no myelin) or more, got {self.myelin_segments}.")

    def layouts(self, node_ids: np.ndarray, morphologies: list[NeuronMorphology],
                replace_axons: bool) -> list[Layout]:
        return [self.layout(morphology, replace_axons) for morphology in morphologies]

    def layout(self, morphology: NeuronMorphology, replace_axons: bool) -> Layout:
        ids = np.arange(1, morphology.n_sections + 1)
        counts = 1 + 2 * np.floor(morphology.section_lengths() / self.segment_length).astype(np.int64)
        if replace_axons:
            kept = morphology.types != AXON
            ids, counts = [ids[kept]], [counts[kept]]
            ids.insert(0, np.array([1, 2]))
            counts.insert(0, np.array([self.stub_segments] * 2))
            if self.myelin_segments:
                ids.append(np.array([morphology.n_sections + 1]))
                counts.append(np.array([self.myelin_segments]))
            ids, counts = np.concatenate(ids), np.concatenate(counts)
        return Layout(np.concatenate([[0], ids]).astype(np.int64),
                      np.concatenate([[self.soma_segments], counts]).astype(np.int64))


class ReportDiscretisation:
    """Segment counts read from a SONATA compartment report (libsonata), one population."""

    def __init__(self, report_path: str | Path, population: str):
        self.report_path, self.population = Path(report_path), population
        reader = open_element_report(self.report_path)
        if population not in reader.get_population_names():
            raise InputError(f"Report {report_path} has no population {population!r}; it has "
                             f"{sorted(reader.get_population_names())}. Use a report of the same circuit.")
        self.node_ids = np.sort(np.asarray(reader[population].get_node_ids(), dtype=np.int64))
        self._refuse_one_element_per_cell(reader[population])

    def _refuse_one_element_per_cell(self, population_reader) -> None:
        """A soma or summation report (one element per cell) cannot give segment counts: refused
        from its first cells, before any cell is loaded."""
        import libsonata

        sample = self.node_ids[:_SAMPLE_NODES]
        mapping = np.asarray(population_reader.get_node_id_element_id_mapping(
            libsonata.Selection(np.asarray(sample, dtype=np.uint64))), dtype=np.int64).reshape(-1, 2)
        if sample.size and mapping.shape[0] <= sample.size:
            raise InputError(f"Report {self.report_path.name} has one element per cell (a soma or summation report); "
                             "the rows need a compartment report of every section (e.g. i_membrane with "
                             "compartments 'all'), or use the length rule without --report.")

    def layouts(self, node_ids: np.ndarray, morphologies: list[NeuronMorphology],
                replace_axons: bool) -> list[Layout]:
        import libsonata

        missing = np.setdiff1d(node_ids, self.node_ids)
        if missing.size:
            raise InputError(f"Report {self.report_path.name} does not cover node(s) {missing[:10].tolist()} of "
                             f"population {self.population}; use a report of all the cells, or the length rule.")
        reader = libsonata.ElementReportReader(str(self.report_path))[self.population]
        mapping = np.asarray(reader.get_node_id_element_id_mapping(
            libsonata.Selection(np.asarray(node_ids, dtype=np.uint64))), dtype=np.int64).reshape(-1, 2)
        mapping = mapping[np.lexsort((mapping[:, 1], mapping[:, 0]))]
        nodes, firsts = np.unique(mapping[:, 0], return_index=True)
        rows = dict(zip(nodes.tolist(), np.split(mapping[:, 1], firsts[1:])))
        layouts = []
        for node_id, morphology in zip(node_ids, morphologies):
            sections, counts = np.unique(rows[int(node_id)], return_counts=True)
            self._check_sections(int(node_id), sections, morphology, replace_axons)
            layouts.append(Layout(sections, counts))
        return layouts

    def _check_sections(self, node_id: int, sections: np.ndarray, morphology: NeuronMorphology,
                        replace_axons: bool) -> None:
        """The report must list every section neurodamus creates for the cell, and no other."""
        expected = RuleDiscretisation().layout(morphology, replace_axons).section_ids
        if replace_axons:  # the templates' myelin section, when they make one, comes last
            expected_with_myelin = np.append(expected, morphology.n_sections + 1)
            if np.array_equal(sections, expected) or np.array_equal(sections, expected_with_myelin):
                return
        elif np.array_equal(sections, expected):
            return
        name, population = self.report_path.name, self.population
        reconstructed_axon = np.arange(3, morphology.n_axon_sections + 1)
        if not replace_axons and reconstructed_axon.size and not np.isin(reconstructed_axon, sections).any():
            raise InputError(f"Report {name} was made with replaced axons (node {node_id} of {population} has axon "
                             "sections 1 and 2 only) but axons are kept: drop --no-replace-axons (replace_axons=True).")
        if replace_axons and reconstructed_axon.size and np.isin(reconstructed_axon, sections).all():
            raise InputError(f"Report {name} keeps the reconstructed axons (node {node_id} of {population}) but "
                             "axons are replaced: pass --no-replace-axons (replace_axons=False).")
        missing = np.setdiff1d(expected, sections)
        extra = np.setdiff1d(sections, expected_with_myelin if replace_axons else expected)
        raise InputError(f"Report {name} does not list every section of node {node_id} of {population} "
                         f"(missing {missing[:8].tolist()}, unexpected {extra[:8].tolist()}): it is not a compartment "
                         "report of all sections of this circuit's morphologies; give one, or use the length rule.")
