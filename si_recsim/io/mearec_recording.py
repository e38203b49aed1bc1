"""MEArec recording files (``gen_recordings`` output) read with h5py alone.

Reading is lazy: traces are sliced from the file per request, so a recording of any length opens at
once. Positions are converted to si_recsim's frame (see :mod:`si_recsim.probes`); spike frames are
``floor(t * fs)``, SpikeInterface's and neo's rule (the file's time base starts at its first sample
whatever ``spiketrains.t_start``). Files from MEArec < 1.5 (channel-major traces) are refused with a
clear error. Writing is :mod:`si_recsim.io.mearec_export`.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from probeinterface import read_mearec as read_mearec_probe
from spikeinterface.core import BaseRecording, BaseRecordingSegment, BaseSorting, BaseSortingSegment

from si_recsim.errors import InputError
from si_recsim.h5_input import checked_array, checked_dataset, open_h5, positive_number, read_dataset
from si_recsim.library.mearec_templates import mearec_to_si_rotations, read_h5_tree
from si_recsim.probes import (
    mearec_to_si_positions,
    wired_copy,
)
from si_recsim.recording.drift import motion_from_positions
from si_recsim.recording.overlap import OVERLAP_LABELS_ANNOTATION, OVERLAPPING_PAIRS_ANNOTATION

#: MEArec's layout version that si_recsim writes and reads (time-major traces since 1.5)
MEAREC_FORMAT_VERSION = "1.11.0"
MINIMUM_VERSION = (1, 5, 0)


def _version_tuple(text: str) -> tuple:
    return tuple(int(part) for part in str(text).split(".")[:3] if part.isdigit())


WHAT = "a MEArec recording file"


def _open_checked(file_path: Path) -> tuple[h5py.File, dict]:
    """The file, open, and its ``info`` tree, after checking what the readers rely on: traces numeric
    (n_samples, n_channels) and readable to their end, positions (n_channels, 3), a positive ``fs``,
    integer-named units with numeric 1-D spike times."""
    file = open_h5(file_path, WHAT)
    try:
        version = file.attrs.get("mearec_version", "1.4.0")
        version = version.decode() if isinstance(version, bytes) else str(version)
        missing = [key for key in ("recordings", "channel_positions", "info/recordings", "info/electrodes")
                   if key not in file]
        if missing:
            raise InputError(f"{file_path} is not {WHAT}: missing {missing}.")
        if _version_tuple(version) < MINIMUM_VERSION:
            raise InputError(f"{file_path} was written by MEArec {version}; files older than 1.5 store traces "
                             "channel-major and are not supported: convert it with MEArec >= 1.5 (load and save it).")
        info = read_h5_tree(file["info"])
        info["recordings"]["fs"] = positive_number(info["recordings"].get("fs"), "info/recordings/fs", file_path)
        positions = checked_array(file, "channel_positions", (2,), WHAT, shape=(None, 3))
        traces = checked_dataset(file, "recordings", (2,), WHAT, shape=(None, len(positions)))
        if traces.shape[0]:
            read_dataset(traces, WHAT, np.s_[-1:])  # a truncated file fails here, not halfway through a run
        units = list(file["spiketrains"]) if "spiketrains" in file else []
        if not all(unit.isdigit() for unit in units):
            raise InputError(f"{file_path}: spike trains are named {units[:5]}..., not 0, 1, ...: it is not {WHAT}.")
        for unit in units:
            checked_array(file, f"spiketrains/{unit}/times", (1,), WHAT)
    except BaseException:
        file.close()
        raise
    return file, info


class MEArecFileRecording(BaseRecording):
    """A MEArec recording file as a lazy SpikeInterface recording (h5py only).

    Parameters
    ----------
    file_path : str | Path

    Notes
    -----
    Annotations: ``mearec_info`` (the file's ``info`` tree: parameters, seeds, probe description)
    and ``is_filtered``. Channel ids are ``"0"``..``"n-1"`` in the file's channel order.
    """

    def __init__(self, file_path: str | Path):
        file_path = Path(file_path).resolve()
        file, info = _open_checked(file_path)
        with file:
            fs = info["recordings"]["fs"]
            n_samples, n_channels = file["recordings"].shape
            dtype = file["recordings"].dtype
            gain = float(file["recordings"].attrs.get("gain_to_uV", 1.0))
        BaseRecording.__init__(self, fs, np.arange(n_channels).astype(str), dtype)
        # probeinterface's reader: the file's own contact positions, with its probe's contact shape
        probe = read_mearec_probe(file_path)
        _restore_contact_shape(probe, info["electrodes"])
        probe.annotate(mearec_type=str(info["electrodes"].get("type", "mea")))
        self.set_probe(wired_copy(probe))
        self.set_channel_gains(gain)
        self.set_channel_offsets(0.0)
        self.annotate(is_filtered=bool(info["recordings"].get("filter", True)), mearec_info=info)
        self.add_recording_segment(_MEArecSegment(file_path, fs, n_samples, n_channels))
        self._kwargs = dict(file_path=str(file_path))


def _restore_contact_shape(probe, electrodes: dict) -> None:
    """Rectangular contacts, which si_recsim writes as squares of the same area for the readers' sake."""
    if electrodes.get("si_recsim_contact_shape") == "rect":
        probe.set_contacts(probe.contact_positions, shapes="rect",
                           shape_params={"width": float(electrodes["si_recsim_contact_width"]),
                                         "height": float(electrodes["si_recsim_contact_height"])})


class _MEArecSegment(BaseRecordingSegment):
    def __init__(self, file_path: Path, fs: float, n_samples: int, n_channels: int, dataset: str = "recordings"):
        BaseRecordingSegment.__init__(self, sampling_frequency=fs)
        self.file_path = file_path
        self.dataset = dataset
        self.n_samples = n_samples
        self.num_channels = n_channels
        self._file = None

    def get_num_samples(self) -> int:
        return self.n_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        if self._file is None:  # opened on first read, in whichever process reads
            self._file = h5py.File(self.file_path, "r")
        traces = self._file[self.dataset][start_frame:end_frame]
        return traces if channel_indices is None else traces[:, channel_indices]


class MEArecSpikeTracesRecording(BaseRecording):
    """A MEArec file's ``spike_traces`` (each unit's noise-free trace on its main channel) as a lazy
    recording, one channel per unit (ids ``"0"``..``"n-1"`` like the sorting's units), µV.

    Parameters
    ----------
    file_path : str | Path
    """

    def __init__(self, file_path: str | Path):
        file_path = Path(file_path).resolve()
        file, info = _open_checked(file_path)
        with file:
            fs = info["recordings"]["fs"]
            dataset = checked_dataset(file, "spike_traces", (2,), WHAT, shape=(file["recordings"].shape[0], None))
            n_samples, n_units = dataset.shape
            dtype = dataset.dtype
        BaseRecording.__init__(self, fs, np.arange(n_units).astype(str), dtype)
        self.add_recording_segment(_MEArecSegment(file_path, fs, n_samples, n_units, dataset="spike_traces"))
        self._kwargs = dict(file_path=str(file_path))


class MEArecFileSorting(BaseSorting):
    """The ground-truth spike trains of a MEArec recording file, with MEArec's annotations as
    properties: ``cell_type``, ``cell_model`` (``mtype``), ``firing_rate`` (``fr``), ``bursting``,
    ``snr``, and, when the file has them, ``gt_unit_locations`` (µm, si_recsim's frame; the middle
    step of drifting templates), ``template_id``, ``main_channel_id`` and ``voltage_peaks``.

    Parameters
    ----------
    file_path : str | Path
    """

    def __init__(self, file_path: str | Path):
        file_path = Path(file_path).resolve()
        file, info = _open_checked(file_path)
        with file:
            fs = info["recordings"]["fs"]
            units = sorted(file["spiketrains"], key=int) if "spiketrains" in file else []
            frames, annotations = [], []
            for unit in units:
                times = file[f"spiketrains/{unit}/times"][()]
                frames.append(np.floor(times * fs).astype(np.int64))  # the readers' rule: the file's time base starts at 0
                annotations.append(read_h5_tree(file[f"spiketrains/{unit}/annotations"]))
            extras = {key: file[key][()] for key in ("template_locations", "template_ids", "voltage_peaks",
                                                     "template_rotations") if key in file}
            if "original_templates" in file and file["original_templates"].ndim == 4:  # drifting: the middle step
                middle = file["original_templates"].shape[1] // 2
                extras["middle_templates"] = file["original_templates"][:, middle]
        unit_ids = np.arange(len(units)).astype(str)
        BaseSorting.__init__(self, fs, unit_ids)
        self.add_sorting_segment(_MEArecSortingSegment(dict(zip(unit_ids, frames))))
        self._set_properties(annotations, extras, str(info["electrodes"].get("plane", "yz")))
        if annotations and all("overlap" in annotation for annotation in annotations):
            self.annotate(**{OVERLAP_LABELS_ANNOTATION: {unit_id: list(annotation["overlap"]) for unit_id, annotation
                                                         in zip(unit_ids, annotations)}})
        pairs = info.get("templates", {}).get("overlapping")
        if pairs is not None:
            self.annotate(**{OVERLAPPING_PAIRS_ANNOTATION: np.asarray(pairs, dtype=int).reshape(-1, 2).tolist()})
        self._kwargs = dict(file_path=str(file_path))

    def _set_properties(self, annotations: list, extras: dict, plane: str) -> None:
        if not annotations:
            return
        for key, name in (("cell_type", "cell_type"), ("mtype", "cell_model"), ("fr", "firing_rate"),
                          ("bursting", "bursting"), ("snr", "snr"), ("drifting", "drifting")):
            values = [annotation.get(key) for annotation in annotations]
            if all(value is not None for value in values):
                self.set_property(name, np.asarray(values))
        if "template_locations" in extras:
            locations = mearec_to_si_positions(extras["template_locations"], plane)
            if locations.ndim == 3:  # drifting: the middle of each trajectory
                locations = locations[:, locations.shape[1] // 2]
            self.set_property("gt_unit_locations", locations)
        if "template_ids" in extras:
            self.set_property("template_id", extras["template_ids"])
        if "template_rotations" in extras:
            self.set_property("template_rotation", mearec_to_si_rotations(extras["template_rotations"], plane))
        if "voltage_peaks" in extras:
            self.set_property("voltage_peaks", extras["voltage_peaks"])
        if "middle_templates" in extras:  # (units, channels, samples): where gt_unit_locations is
            self.set_property("main_channel_id", np.argmin(extras["middle_templates"].min(axis=2), axis=1).astype(str))
        elif "voltage_peaks" in extras:
            self.set_property("main_channel_id", np.argmax(extras["voltage_peaks"], axis=1).astype(str))


class _MEArecSortingSegment(BaseSortingSegment):
    def __init__(self, frames: dict):
        BaseSortingSegment.__init__(self)
        self.frames = frames

    def get_unit_spike_train(self, unit_id, start_frame, end_frame):
        frames = self.frames[unit_id]
        low = 0 if start_frame is None else np.searchsorted(frames, start_frame)
        high = frames.size if end_frame is None else np.searchsorted(frames, end_frame)
        return frames[low:high]


def read_mearec_recording(file_path: str | Path) -> tuple[MEArecFileRecording, MEArecFileSorting]:
    """A MEArec recording file as (recording, ground-truth sorting), with h5py alone."""
    return MEArecFileRecording(file_path), MEArecFileSorting(file_path)


def read_mearec_recording_templates(file_path: str | Path):
    """The units' templates stored in a MEArec recording (``original_templates``) as SpikeInterface
    ``Templates`` with the probe (the middle drift step for drifting recordings).

    The template sampling rate follows from their length and ``info/templates/cut_out``.
    """
    from spikeinterface.core import Templates

    file_path = Path(file_path)
    recording = MEArecFileRecording(file_path)
    file, _ = _open_checked(file_path)
    with file:
        if "original_templates" not in file:
            raise InputError(f"{file_path} stores no templates (original_templates).")
        templates = checked_array(file, "original_templates", (3, 4), WHAT)
        cut_out = read_h5_tree(file["info/templates"]).get("cut_out") or [2.0, 5.0]
    if templates.ndim == 4:
        templates = templates[:, templates.shape[1] // 2]
    templates = np.swapaxes(templates, 1, 2)  # (units, samples, channels)
    sampling_frequency = templates.shape[1] / ((cut_out[0] + cut_out[1]) / 1000.0)
    return Templates(templates_array=templates, sampling_frequency=sampling_frequency,
                     nbefore=int(round(cut_out[0] * sampling_frequency / 1000.0)), probe=recording.get_probe(),
                     is_in_uV=True)


def read_mearec_waveforms(file_path: str | Path) -> dict:
    """The waveforms MEArec extracted (``extract_waveforms``): unit id → (n_spikes, n_channels, n_samples)
    µV, for the units that have them (empty when the file has none)."""
    file, _ = _open_checked(Path(file_path))
    with file:
        return {str(unit): checked_array(file, f"spiketrains/{unit}/waveforms", (3,), WHAT)
                for unit in sorted(file["spiketrains"], key=int) if "waveforms" in file[f"spiketrains/{unit}"]}


def read_mearec_positions(file_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Where every unit of a drifting MEArec file is over time, as its traces place it.

    MEArec's rule (``compute_drift_idxs_from_drift_list``): at time t each unit uses the drift step
    ``middle + sum(drift_vector_idxs[t] * drift_factors[unit])`` of its template trajectory.

    Returns
    -------
    times : np.ndarray
        (n_times,) s: the fastest drift signal's samples.
    positions : np.ndarray
        (n_units, n_times, 3) µm, si_recsim's frame.
    """
    times, positions, _ = _drift_positions(Path(file_path))
    return times, positions


def read_mearec_motion(file_path: str | Path):
    """The drift of a MEArec file as a SpikeInterface ``Motion`` (direction y, one spatial bin per
    drifting unit at the middle of its trajectory, holding its displacement from there)."""
    times, positions, trajectories = _drift_positions(Path(file_path))
    moving = np.flatnonzero(np.ptp(positions[:, :, 1], axis=1) > 0)
    if moving.size == 0:
        raise InputError(f"No unit of {file_path} moves.")
    return motion_from_positions(times, positions[moving], trajectories[moving, trajectories.shape[1] // 2])


def _drift_positions(file_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    file, info = _open_checked(file_path)
    with file:
        if "drift_list" not in file or "template_locations" not in file:
            raise InputError(f"{file_path} does not drift (no drift_list or template_locations).")
        drifts = [read_h5_tree(file[f"drift_list/{index}"]) for index in sorted(file["drift_list"], key=int)]
        trajectories = mearec_to_si_positions(checked_array(file, "template_locations", (3,), WHAT),
                                              str(info["electrodes"].get("plane", "yz")))
    fastest = max(drifts, key=lambda drift: drift["drift_fs"])
    times = np.arange(len(fastest["drift_vector_idxs"])) / float(fastest["drift_fs"])
    steps = np.zeros((trajectories.shape[0], times.size), dtype=np.int64)
    for drift in drifts:
        indices = np.asarray(drift["drift_vector_idxs"])
        if drift.get("drift_times") is not None:
            drift_times = np.asarray(drift["drift_times"], dtype=float)
            inside = (times >= drift_times[0]) & (times <= drift_times[-1])
            samples = np.clip(np.searchsorted(drift_times, times), 0, indices.size - 1)
        else:
            inside = np.ones(times.size, dtype=bool)
            samples = np.clip(np.floor(times * float(drift["drift_fs"]) + 1e-9).astype(int), 0, indices.size - 1)
        factors = np.asarray(drift["drift_factors"], dtype=float)
        steps += np.where(inside, (indices[samples][None, :] * factors[:, None]).astype(np.int16), 0)
    steps = np.clip(steps + int(drifts[0]["drift_steps"]) // 2, 0, trajectories.shape[1] - 1)
    return times, trajectories[np.arange(trajectories.shape[0])[:, None], steps], trajectories


def read_mearec_drift(file_path: str | Path) -> list[dict]:
    """The drift signals of a drifting MEArec recording (``drift_list``), empty when it does not drift."""
    file, _ = _open_checked(Path(file_path))
    with file:
        if "drift_list" not in file:
            return []
        return [read_h5_tree(file[f"drift_list/{index}"]) for index in sorted(file["drift_list"], key=int)]
