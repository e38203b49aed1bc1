"""neurodamus outputs in SpikeInterface: SONATA LFP reports, spike files and compartment reports.

* An LFP report (``type: lfp``) stores one column per (cell, electrode):
  ``/report/<population>/data`` (n_times, Σ electrodes per cell), with ``mapping/node_ids``,
  ``index_pointers`` and ``element_ids`` (the electrode index of each column) and ``mapping/time``
  = [start, stop, dt] in ms. :class:`SonataLfpReportRecording` sums the columns of each electrode over
  cells (all populations, one population, or chosen nodes), lazily and a block of rows at a time,
  with a probe from the electrodes file's positions.
* A spike file (``/spikes/<population>/node_ids, timestamps``) becomes a sorting with one unit per
  node (:class:`SonataSpikesSorting`, read with libsonata).
* A compartment report is read as arrays with :func:`read_compartment_report` (libsonata).

Units: neurodamus multiplies the electrodes file's coefficients by membrane currents in nA and
labels the result mV whatever the coefficients' unit. With BlueRecording's (and si_recsim's default)
V/nA coefficients the numbers are volts; give ``weights_units`` so that gains to µV are right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment, BaseSorting, BaseSortingSegment
from spikeinterface.core.core_tools import define_function_from_class

from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5
from si_recsim.sonata.report_file import open_element_report

#: µV per report unit for the coefficient unit the electrodes file was written with
GAIN_TO_UV = {"V/nA": 1e6, "mV/nA": 1e3}
_BYTES_PER_READ = 2 ** 26  # rows of the report read at once: about 64 MB


class SonataLfpReportRecording(BaseRecording):
    """A neurodamus LFP report as a lazy SpikeInterface recording, one channel per electrode.

    Parameters
    ----------
    file_path : str | Path
        The LFP report (``<report name>.h5`` in the simulation's output folder).
    population : str | None
        Sum only this population; default: every population of the report (they must have the same
        electrodes).
    node_ids : array-like | None
        Sum only these nodes (0-based ids of ``population``); default: all reported nodes.
    electrodes_file : str | Path | None
        The electrodes file of the simulation: channel ids become electrode names and a probe is
        set from the electrode positions (3-D, circuit coordinates, µm). Default: channel ids
        ``"0"``..``"n-1"`` and no probe.
    weights_units : "V/nA" | "mV/nA", default: "V/nA"
        Unit of the electrodes file's coefficients (``write-weights --units``), which sets the gain
        to µV (report values are volts with V/nA).

    Notes
    -----
    ``t_start`` is the report's start time; the sampling frequency is 1 / dt. Traces are float32
    in report units; ``return_in_uV=True`` scales them. Annotation ``summed_nodes``: population →
    number of cells summed.
    """

    def __init__(self, file_path: str | Path, population: str | None = None, node_ids=None,
                 electrodes_file: str | Path | None = None, weights_units: str = "V/nA"):
        file_path = Path(file_path).resolve()
        if weights_units not in GAIN_TO_UV:
            raise InputError(f"weights_units must be one of {list(GAIN_TO_UV)}, got {weights_units!r}.")
        if node_ids is not None and population is None:
            raise InputError("node_ids are ids within one population: give population too.")
        layout = _lfp_layout(file_path, population, node_ids)
        n_channels = layout.n_electrodes
        channel_ids = np.arange(n_channels).astype(str)
        positions = None
        if electrodes_file is not None:
            channel_ids, positions = electrode_channels(Path(electrodes_file), layout.populations, n_channels)
        BaseRecording.__init__(self, 1000.0 / layout.dt, channel_ids, np.float32)
        if positions is not None:
            self.set_probe(point_probe(positions, channel_ids))
        self.set_channel_gains(GAIN_TO_UV[weights_units])
        self.set_channel_offsets(0.0)
        self.annotate(is_filtered=False, summed_nodes={name: int(len(columns))
                                                       for name, columns in layout.node_columns.items()})
        self.add_recording_segment(_LfpSegment(file_path, layout))
        self._kwargs = dict(file_path=str(file_path), population=population,
                            node_ids=None if node_ids is None else [int(node) for node in node_ids],
                            electrodes_file=None if electrodes_file is None else str(Path(electrodes_file).resolve()),
                            weights_units=weights_units)


@dataclass
class _LfpLayout:
    populations: list
    n_electrodes: int
    dt: float
    t_start: float
    n_samples: int
    columns: dict  # population → (selected column indices, their electrode index)
    node_columns: dict  # population → selected node ids


def _lfp_layout(file_path: Path, population: str | None, node_ids) -> _LfpLayout:
    if not file_path.is_file():
        raise FileNotFoundError(f"LFP report {file_path} does not exist.")
    with open_h5(file_path, "a SONATA LFP report") as file:
        if "report" not in file or not len(file["report"]):
            raise InputError(f"{file_path} is not a SONATA report: no /report/<population> group.")
        available = sorted(file["report"])
        names = available if population is None else [_one_population(file_path, available, population)]
        columns, node_columns, electrodes, times = {}, {}, set(), set()
        for name in names:
            group = file["report"][name]
            mapping = group["mapping"]
            nodes = mapping["node_ids"][()].astype(np.int64)
            pointers = mapping["index_pointers"][()].astype(np.int64)
            element_ids = mapping["element_ids"][()].astype(np.int64)
            if len(pointers) != len(nodes) + 1 or pointers[-1] != group["data"].shape[1]:
                raise InputError(f"{file_path}: the mapping of population {name} does not match its data columns.")
            chosen = np.arange(len(nodes))
            if node_ids is not None:
                wanted = np.asarray(node_ids, dtype=np.int64)
                missing = np.setdiff1d(wanted, nodes)
                if missing.size:
                    raise InputError(f"{file_path}: node(s) {missing[:10].tolist()} of {name} are not in the report.")
                chosen = np.flatnonzero(np.isin(nodes, wanted))
            selected = np.concatenate([np.arange(pointers[i], pointers[i + 1]) for i in chosen]) \
                if chosen.size else np.zeros(0, dtype=np.int64)
            columns[name] = (selected, element_ids[selected])
            node_columns[name] = nodes[chosen]
            electrodes.add(int(element_ids.max()) + 1 if element_ids.size else 0)
            start, _, dt = (float(value) for value in mapping["time"][()])
            times.add((start, dt, group["data"].shape[0]))
        if len(electrodes) != 1:
            raise InputError(f"{file_path}: populations {names} have different electrode counts; read one "
                             "population at a time (population=...).")
        if len(times) != 1:
            raise InputError(f"{file_path}: populations {names} have different time axes; read one at a time.")
        (start, dt, n_samples), = times
    return _LfpLayout(names, electrodes.pop(), dt, start, n_samples, columns, node_columns)


def electrode_channels(electrodes_file: Path, populations: list, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Electrode names (by column) and positions from an electrodes file."""
    from si_recsim.sonata.electrodes_file_reader import read_electrodes_file

    content = read_electrodes_file(electrodes_file)
    population = populations[0]
    named = {info["columns"][population]: (name, info["position"]) for name, info in content["electrodes"].items()
             if population in info["columns"]}
    if sorted(named) != list(range(n_channels)) or any(position is None for _, position in named.values()):
        raise InputError(f"{electrodes_file} does not name and place all {n_channels} electrodes of population "
                         f"{population} (per-electrode groups with position, as write-weights writes them); "
                         "leave electrodes_file out to read the report without a probe.")
    names = np.array([named[column][0] for column in range(n_channels)])
    positions = np.array([named[column][1] for column in range(n_channels)], dtype=float)
    return names, positions


def point_probe(positions: np.ndarray, channel_ids: np.ndarray):
    """A 3-D probe of point electrodes (drawn as 1 µm discs) at circuit coordinates."""
    from probeinterface import Probe

    probe = Probe(ndim=3, si_units="um")
    plane_axes = np.broadcast_to(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (len(positions), 2, 3))
    probe.set_contacts(positions=positions, shapes="circle", shape_params={"radius": 1.0}, plane_axes=plane_axes,
                       contact_ids=channel_ids)
    probe.set_device_channel_indices(np.arange(len(positions)))
    return probe


class _LfpSegment(BaseRecordingSegment):
    def __init__(self, file_path: Path, layout: _LfpLayout):
        BaseRecordingSegment.__init__(self, sampling_frequency=1000.0 / layout.dt, t_start=layout.t_start / 1000.0)
        from scipy.sparse import csr_matrix

        self.file_path, self.layout = file_path, layout
        # (electrodes x selected columns) 0/1 matrices: one product sums every electrode over cells
        self.summing = {name: csr_matrix((np.ones(len(columns)), (electrodes, np.arange(len(columns)))),
                                         shape=(layout.n_electrodes, len(columns)))
                        for name, (columns, electrodes) in layout.columns.items()}
        self._file = None

    def get_num_samples(self) -> int:
        return self.layout.n_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        if self._file is None:  # opened on first read, in whichever process reads
            self._file = h5py.File(self.file_path, "r")
        start_frame = 0 if start_frame is None else int(start_frame)
        end_frame = self.layout.n_samples if end_frame is None else int(end_frame)
        traces = np.zeros((end_frame - start_frame, self.layout.n_electrodes), dtype=np.float64)
        for name, (columns, _) in self.layout.columns.items():
            if not columns.size:
                continue
            data = self._file["report"][name]["data"]
            rows_per_read = max(1, _BYTES_PER_READ // (4 * data.shape[1]))
            every_column = columns.size == data.shape[1]
            for low in range(start_frame, end_frame, rows_per_read):
                high = min(end_frame, low + rows_per_read)
                block = data[low:high]
                if not every_column:
                    block = block[:, columns]
                traces[low - start_frame: high - start_frame] += (self.summing[name] @ block.T.astype(np.float64)).T
        traces = traces.astype(np.float32)
        return traces if channel_indices is None else traces[:, channel_indices]


class SonataSpikesSorting(BaseSorting):
    """A SONATA spike file (neurodamus ``out.h5``, or an input spike file) as a sorting, one unit per node.

    Parameters
    ----------
    file_path : str | Path
    population : str | None
        Needed when the file has several populations.
    sampling_frequency : float, default: 40000.0
        Frames per second for the spike times (neurodamus' default dt, 0.025 ms, gives 40 kHz).
    node_ids : array-like | None
        Units to include, silent ones too (e.g. every simulated node); default: nodes that spiked.
    t_start : float, default: 0.0
        Time of frame 0, s; earlier spikes are left out.
    t_stop : float | None
        Spikes at or after this time (s) are left out (e.g. the end of an LFP report).

    Notes
    -----
    Unit ids are the 0-based node ids; properties ``population`` and ``node_id``.
    """

    def __init__(self, file_path: str | Path, population: str | None = None, sampling_frequency: float = 40000.0,
                 node_ids=None, t_start: float = 0.0, t_stop: float | None = None):
        import libsonata

        file_path = Path(file_path).resolve()
        if not file_path.is_file():
            raise FileNotFoundError(f"Spike file {file_path} does not exist.")
        _check_spike_file(file_path)
        reader = libsonata.SpikeReader(str(file_path))
        population = _one_population(file_path, reader.get_population_names(), population)
        spikes = reader[population].get_dict()
        nodes = np.asarray(spikes["node_ids"], dtype=np.int64)
        frames = np.round((np.asarray(spikes["timestamps"], dtype=float) / 1000.0 - t_start)
                          * sampling_frequency).astype(np.int64)
        inside = frames >= 0
        if t_stop is not None:
            inside &= frames < np.round((t_stop - t_start) * sampling_frequency)
        nodes, frames = nodes[inside], frames[inside]
        unit_ids = np.unique(nodes) if node_ids is None else np.unique(np.asarray(node_ids, dtype=np.int64))
        order = np.lexsort((frames, nodes))
        nodes, frames = nodes[order], frames[order]
        bounds = np.searchsorted(nodes, np.concatenate([unit_ids, [np.iinfo(np.int64).max]]))
        trains = {int(unit): frames[bounds[i]: bounds[i + 1]] if bounds[i] < len(nodes) and
                  nodes[bounds[i]] == unit else np.zeros(0, dtype=np.int64) for i, unit in enumerate(unit_ids)}
        BaseSorting.__init__(self, sampling_frequency, unit_ids)
        self.add_sorting_segment(_SpikesSegment(trains))
        self.set_property("population", np.array([population] * len(unit_ids)))
        self.set_property("node_id", unit_ids)
        self._kwargs = dict(file_path=str(file_path), population=population, sampling_frequency=sampling_frequency,
                            node_ids=None if node_ids is None else [int(node) for node in node_ids], t_start=t_start,
                            t_stop=t_stop)


class _SpikesSegment(BaseSortingSegment):
    def __init__(self, trains: dict):
        BaseSortingSegment.__init__(self)
        self.trains = trains

    def get_unit_spike_train(self, unit_id, start_frame, end_frame):
        frames = self.trains[int(unit_id)]
        low = 0 if start_frame is None else np.searchsorted(frames, start_frame)
        high = frames.size if end_frame is None else np.searchsorted(frames, end_frame)
        return frames[low:high]


def _one_population(file_path: Path, names, population: str | None) -> str:
    """``population``, or the file's only population; a clear error otherwise."""
    available = sorted(names)
    if population is None:
        if len(available) != 1:
            raise InputError(f"{file_path} has populations {available}: choose one (population=...).")
        return available[0]
    if population not in available:
        raise InputError(f"{file_path} has populations {available}, not {population!r}.")
    return population


@dataclass
class CompartmentReport:
    """A compartment report read into memory.

    Attributes
    ----------
    times : np.ndarray
        (n_times,) ms.
    data : np.ndarray
        (n_times, n_columns) in ``units``.
    node_ids, section_ids : np.ndarray
        (n_columns,) node and section id of each column (the report's element order).
    units : str
    """

    times: np.ndarray
    data: np.ndarray
    node_ids: np.ndarray
    section_ids: np.ndarray
    units: str


def read_compartment_report(file_path: str | Path, population: str | None = None, node_ids=None,
                            t_start: float | None = None, t_stop: float | None = None) -> CompartmentReport:
    """Read (part of) a SONATA compartment report with libsonata.

    Parameters
    ----------
    file_path : str | Path
    population : str | None
        Needed when the report has several populations.
    node_ids : array-like | None
        Default: every reported node.
    t_start, t_stop : float | None
        ms, inclusive; default: the whole report.
    """
    import libsonata

    file_path = Path(file_path)
    reader = open_element_report(file_path)
    report = reader[_one_population(file_path, reader.get_population_names(), population)]
    selection = None if node_ids is None else libsonata.Selection(np.asarray(node_ids, dtype=np.uint64))
    frame = report.get(node_ids=selection, tstart=t_start, tstop=t_stop)
    ids = np.asarray(frame.ids, dtype=np.int64).reshape(-1, 2)
    return CompartmentReport(np.asarray(frame.times), np.asarray(frame.data), ids[:, 0], ids[:, 1], report.data_units)


def _check_spike_file(file_path: Path) -> None:
    """What libsonata's spike reader needs, checked first (it stops with an HDF5 error stack)."""
    with open_h5(file_path, "a SONATA spike file") as file:
        spikes = file.get("spikes")
        if not isinstance(spikes, h5py.Group) or not len(spikes):
            raise InputError(f"{file_path} is not a SONATA spike file: it has no /spikes/<population> group.")
        for population, group in spikes.items():
            for key in ("node_ids", "timestamps"):
                if key not in group:
                    raise InputError(f"{file_path} is not a SONATA spike file: /spikes/{population}/{key} is missing.")
            if "units" not in group["timestamps"].attrs:
                raise InputError(f"{file_path}: /spikes/{population}/timestamps has no 'units' attribute, which "
                                 "libsonata needs; add it ('ms').")


read_sonata_lfp_report = define_function_from_class(source_class=SonataLfpReportRecording, name="read_sonata_lfp_report")
read_sonata_spikes = define_function_from_class(source_class=SonataSpikesSorting, name="read_sonata_spikes")
