"""The LFP neurodamus would report, computed offline: an electrodes file times a compartment report.

For every reported cell, the report's membrane currents (one column per segment, in the report's
element order) are put in the electrodes file's row order (ascending section id, segments in order
within a section: a stable sort of the report's columns by section id) and multiplied by the cell's
coefficients; the products are summed over cells. This is the sum neurodamus/CoreNEURON evaluates
at every time step for an ``lfp`` report, without running the simulation again.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment
from spikeinterface.core.core_tools import define_function_from_class

from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5
from si_recsim.io.sonata_reports import GAIN_TO_UV, electrode_channels, point_probe
from si_recsim.sonata.report_file import open_element_report


class OfflineLfpRecording(BaseRecording):
    """The extracellular signal of a compartment report's currents through an electrodes file, lazily.

    Parameters
    ----------
    electrodes_file : str | Path
        A SONATA electrodes ("weights") file (``write-weights``, BlueRecording).
    compartment_report : str | Path
        A SONATA compartment report of membrane currents of the same cells (neurodamus
        ``i_membrane``, compartments ``all``), in nA.
    population : str | None
        The population to use; default: the one population both files have.
    node_ids : array-like | None
        Sum only these cells (0-based node ids); default: every reported cell.
    weights_units : "V/nA" | "mV/nA", default: "V/nA"
        Unit of the electrodes file's coefficients, which sets the gain to µV.

    Notes
    -----
    One channel per electrode (ids: electrode names), with a 3-D probe of the electrode positions.
    Traces are float32 in the coefficients' unit times nA (volts with V/nA); ``return_in_uV=True``
    scales them. The coefficient matrix of the summed cells is held in memory (segments x electrodes
    x 8 bytes). The report's unit label is not used (neurodamus labels current reports ``mV``); it
    is kept in the ``report_units`` annotation.
    """

    def __init__(self, electrodes_file: str | Path, compartment_report: str | Path, population: str | None = None,
                 node_ids=None, weights_units: str = "V/nA"):
        import libsonata

        electrodes_file, compartment_report = Path(electrodes_file).resolve(), Path(compartment_report).resolve()
        if weights_units not in GAIN_TO_UV:
            raise InputError(f"weights_units must be one of {list(GAIN_TO_UV)}, got {weights_units!r}.")
        reader = open_element_report(compartment_report)
        population = _shared_population(electrodes_file, compartment_report, reader, population)
        report = reader[population]
        nodes = np.sort(np.asarray(report.get_node_ids(), dtype=np.int64))
        if node_ids is not None:
            wanted = np.unique(np.asarray(node_ids, dtype=np.int64))
            missing = np.setdiff1d(wanted, nodes)
            if missing.size:
                raise InputError(f"{compartment_report.name}: node(s) {missing[:10].tolist()} of {population} are not "
                                 "in the report.")
            nodes = wanted
        selection = libsonata.Selection(nodes.astype(np.uint64))
        mapping = np.asarray(report.get_node_id_element_id_mapping(selection), dtype=np.int64).reshape(-1, 2)
        coefficients = _coefficients_by_column(electrodes_file, population, mapping, compartment_report.name)
        start, stop, dt = (float(value) for value in report.times)
        n_samples = int(round((stop - start) / dt))
        channel_ids, positions = electrode_channels(electrodes_file, [population], coefficients.shape[1])
        BaseRecording.__init__(self, 1000.0 / dt, channel_ids, np.float32)
        self.set_probe(point_probe(positions, channel_ids))
        self.set_channel_gains(GAIN_TO_UV[weights_units])
        self.set_channel_offsets(0.0)
        self.annotate(is_filtered=False, summed_nodes={population: int(len(nodes))}, report_units=report.data_units)
        self.add_recording_segment(_OfflineLfpSegment(compartment_report, population, nodes, coefficients, start, dt,
                                                      n_samples))
        self._kwargs = dict(electrodes_file=str(electrodes_file), compartment_report=str(compartment_report),
                            population=population, node_ids=None if node_ids is None else nodes.tolist(),
                            weights_units=weights_units)


def _shared_population(electrodes_file: Path, report_path: Path, reader, population: str | None) -> str:
    with open_h5(electrodes_file, "a SONATA electrodes file") as file:
        in_weights = {name for name in file if name != "electrodes" and isinstance(file[name], h5py.Group)
                      and "offsets" in file[name] and f"electrodes/{name}/scaling_factors" in file}
    shared = sorted(in_weights & set(reader.get_population_names()))
    if population is not None:
        if population not in shared:
            raise InputError(f"Population {population!r} is not in both {electrodes_file.name} ({sorted(in_weights)}) "
                             f"and {report_path.name} ({sorted(reader.get_population_names())}).")
        return population
    if len(shared) != 1:
        raise InputError(f"{electrodes_file.name} and {report_path.name} share populations {shared}: give one "
                         "(population=..., --population).")
    return shared[0]


def _coefficients_by_column(electrodes_file: Path, population: str, mapping: np.ndarray, report_name: str) -> np.ndarray:
    """(n_report_columns, n_electrodes) coefficients: the electrodes file's row of each report column."""
    with open_h5(electrodes_file, "a SONATA electrodes file") as file:
        group = file[population]
        file_nodes = group["node_ids"][()].astype(np.int64)
        offsets = group["offsets"][()].astype(np.int64)
        factors = file[f"electrodes/{population}/scaling_factors"]
        rows = np.empty(len(mapping), dtype=np.int64)
        nodes, firsts, counts = np.unique(mapping[:, 0], return_index=True, return_counts=True)
        if 1 + np.count_nonzero(np.diff(mapping[:, 0])) != len(nodes):
            raise InputError(f"{report_name}: the columns of each node are not contiguous; it is not a SONATA report.")
        position = np.searchsorted(file_nodes, nodes)
        absent = (position >= len(file_nodes)) | (file_nodes[np.minimum(position, len(file_nodes) - 1)] != nodes)
        if absent.any():
            raise InputError(f"{electrodes_file.name} has no rows for node(s) {nodes[absent][:10].tolist()} of "
                             f"{population} that {report_name} reports: use the electrodes file of these cells.")
        for node, index, low, count in zip(nodes, position, firsts, counts):
            n_rows = offsets[index + 1] - offsets[index]
            if n_rows != count:
                raise InputError(f"Node {node} of {population} has {n_rows} rows in {electrodes_file.name} but "
                                 f"{count} segments in {report_name}: the two come from different "
                                 "discretisations (a compartment report of all sections is needed).")
            order = np.argsort(mapping[low: low + count, 1], kind="stable")  # report columns in row order
            rows[low + order] = offsets[index] + np.arange(n_rows)
        unique_rows, inverse = np.unique(rows, return_inverse=True)
        return factors[unique_rows][inverse]  # one read of the rows needed, in increasing order


class _OfflineLfpSegment(BaseRecordingSegment):
    def __init__(self, report_path: Path, population: str, nodes: np.ndarray, coefficients: np.ndarray,
                 start: float, dt: float, n_samples: int):
        BaseRecordingSegment.__init__(self, sampling_frequency=1000.0 / dt, t_start=start / 1000.0)
        self.report_path, self.population, self.nodes = report_path, population, nodes
        self.coefficients, self.start, self.dt, self.n_samples = coefficients, start, dt, n_samples

    def get_num_samples(self) -> int:
        return self.n_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        import libsonata

        start_frame = 0 if start_frame is None else int(start_frame)
        end_frame = self.n_samples if end_frame is None else int(end_frame)
        coefficients = self.coefficients if channel_indices is None else self.coefficients[:, channel_indices]
        if end_frame <= start_frame:
            return np.zeros((0, coefficients.shape[1]), dtype=np.float32)
        report = open_element_report(self.report_path)[self.population]
        frame = report.get(node_ids=libsonata.Selection(self.nodes.astype(np.uint64)),
                           tstart=self.start + max(start_frame - 0.5, 0.0) * self.dt,
                           tstop=self.start + (end_frame - 0.5) * self.dt)
        currents = np.asarray(frame.data, dtype=np.float64)
        if currents.shape[0] != end_frame - start_frame or currents.shape[1] != coefficients.shape[0]:
            raise InputError(f"{self.report_path.name}: reading frames {start_frame}-{end_frame} gave "
                             f"{currents.shape} values; the report is inconsistent.")
        return (currents @ coefficients).astype(np.float32)


compute_lfp = define_function_from_class(source_class=OfflineLfpRecording, name="compute_lfp")
