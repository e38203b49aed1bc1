"""MEArec recording files (``gen_recordings`` output) in and out, with h5py alone.

Reading is lazy: traces are sliced from the file per request, so a recording of any length opens at
once. Positions are converted to si_recsim's frame (see :mod:`si_recsim.probes`). Files from MEArec
< 1.5 (channel-major traces) are refused with a clear error.

Writing streams the traces chunk by chunk (memory flat in duration, SpikeInterface's chunking and
progress bar), to a temporary file that is renamed at the end. The file holds what
``spikeinterface.extractors.read_mearec``, ``MEArec.load_recordings`` and MEArec's tools read:
traces with ``gain_to_uV``, ``channel_positions``, spike trains with their annotations, the
``info`` tree (parameters, seeds, probe) and, for si_recsim's ground truth, the templates and
their locations.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from probeinterface import read_mearec as read_mearec_probe
from spikeinterface.core import BaseRecording, BaseRecordingSegment, BaseSorting, BaseSortingSegment

from si_recsim.atomic import atomic_h5
from si_recsim.errors import InputError
from si_recsim.h5_input import checked_array, checked_dataset, open_h5, positive_number, read_dataset
from si_recsim.library.mearec_templates import read_h5_tree, si_to_mearec_rotations, write_h5_tree
from si_recsim.probes import (
    mearec_electrodes_info,
    mearec_to_si_positions,
    si_to_mearec_positions,
    wired_copy,
)
from si_recsim.recording.extractors import PARAMS_ANNOTATION, SimulatedRecording

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
        probe.annotate(mearec_type=str(info["electrodes"].get("type", "mea")))
        self.set_probe(wired_copy(probe))
        self.set_channel_gains(gain)
        self.set_channel_offsets(0.0)
        self.annotate(is_filtered=bool(info["recordings"].get("filter", True)), mearec_info=info)
        self.add_recording_segment(_MEArecSegment(file_path, fs, n_samples, n_channels))
        self._kwargs = dict(file_path=str(file_path))


class _MEArecSegment(BaseRecordingSegment):
    def __init__(self, file_path: Path, fs: float, n_samples: int, n_channels: int):
        BaseRecordingSegment.__init__(self, sampling_frequency=fs)
        self.file_path = file_path
        self.n_samples = n_samples
        self.num_channels = n_channels
        self._file = None

    def get_num_samples(self) -> int:
        return self.n_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        if self._file is None:  # opened on first read, in whichever process reads
            self._file = h5py.File(self.file_path, "r")
        traces = self._file["recordings"][start_frame:end_frame]
        return traces if channel_indices is None else traces[:, channel_indices]


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
            extras = {key: file[key][()] for key in ("template_locations", "template_ids", "voltage_peaks")
                      if key in file}
        unit_ids = np.arange(len(units)).astype(str)
        BaseSorting.__init__(self, fs, unit_ids)
        self.add_sorting_segment(_MEArecSortingSegment(dict(zip(unit_ids, frames))))
        self._set_properties(annotations, extras, str(info["electrodes"].get("plane", "yz")))
        self._kwargs = dict(file_path=str(file_path))

    def _set_properties(self, annotations: list, extras: dict, plane: str) -> None:
        if not annotations:
            return
        for key, name in (("cell_type", "cell_type"), ("mtype", "cell_model"), ("fr", "firing_rate"),
                          ("bursting", "bursting"), ("snr", "snr")):
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
        if "voltage_peaks" in extras:
            peaks = extras["voltage_peaks"]
            self.set_property("voltage_peaks", peaks)
            self.set_property("main_channel_id", np.argmax(peaks, axis=1).astype(str))


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


def read_mearec_drift(file_path: str | Path) -> list[dict]:
    """The drift signals of a drifting MEArec recording (``drift_list``), empty when it does not drift."""
    file, _ = _open_checked(Path(file_path))
    with file:
        if "drift_list" not in file:
            return []
        return [read_h5_tree(file[f"drift_list/{index}"]) for index in sorted(file["drift_list"], key=int)]


# ------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------


def _annotations(sorting, unit_index: int) -> dict:
    properties = {key: sorting.get_property(key) for key in sorting.get_property_keys()}

    def value(key, default=None):
        return properties[key][unit_index] if key in properties else default

    annotations = dict(cell_type=str(value("cell_type", "U")), mtype=str(value("cell_model", "unknown")),
                       fr=float(value("firing_rate", np.nan)), bursting=bool(value("bursting", False)))
    if "gt_unit_locations" in properties:
        annotations["soma_position"] = si_to_mearec_positions(properties["gt_unit_locations"][unit_index])
    return annotations


def write_mearec_recording(recording, sorting, file_path: str | Path, chunk_duration: float = 1.0,
                           progress_bar: bool = True, overwrite: bool = False) -> Path:
    """Write a recording and its ground-truth sorting as a MEArec recording file.

    Parameters
    ----------
    recording : BaseRecording
        Any single-segment SpikeInterface recording with a 2-D probe (si_recsim's ground truth
        also gets its parameters, seeds and templates written).
    sorting : BaseSorting
        Its ground truth (properties become MEArec's spike-train annotations).
    file_path : str | Path
    chunk_duration : float, default: 1.0
        Seconds of traces per write.
    progress_bar : bool, default: True
    overwrite : bool, default: False
        Replace an existing file, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).

    Returns
    -------
    file_path : Path
    """
    from tqdm.auto import tqdm

    if recording.get_num_segments() != 1:
        raise InputError("MEArec files hold one segment: select one with recording.select_segments([i]).")
    file_path = Path(file_path)
    fs = recording.sampling_frequency
    n_samples, n_channels = recording.get_num_samples(), recording.get_num_channels()
    probe = recording.get_probe()
    electrodes = mearec_electrodes_info(probe)
    info = _info_tree(recording, sorting, electrodes)
    with atomic_h5(file_path, overwrite=overwrite) as file:
        file.attrs["mearec_version"] = MEAREC_FORMAT_VERSION
        file.attrs["date"] = __import__("datetime").datetime.now().strftime("%y-%m-%d %H:%M:%S")
        from si_recsim.version import __version__

        file.attrs["si_recsim_version"] = __version__
        traces = file.create_dataset("recordings", shape=(n_samples, n_channels), dtype=recording.get_dtype())
        gains = recording.get_channel_gains() if recording.has_scaleable_traces() else np.ones(n_channels)
        traces.attrs["gain_to_uV"] = float(np.asarray(gains).ravel()[0])
        step = max(1, int(chunk_duration * fs))
        for start in tqdm(range(0, n_samples, step), desc="write MEArec", disable=not progress_bar):
            traces[start: start + step] = recording.get_traces(start_frame=start, end_frame=min(start + step,
                                                                                                n_samples))
        file.create_dataset("channel_positions",
                            data=si_to_mearec_positions(_contact_positions(probe), electrodes["plane"]))
        for unit_index, unit_id in enumerate(sorting.unit_ids):  # times from the first sample; t_start stays in info
            group = file.create_group(f"spiketrains/{unit_index}")
            group.create_dataset("times", data=spike_times_for_readers(sorting, unit_id, fs))
            group.create_dataset("t_stop", data=n_samples / fs)
            write_h5_tree(group.create_group("annotations"), _annotations(sorting, unit_index))
        _write_templates(file, recording, sorting, electrodes["plane"])
        _write_drift(file, recording)
        write_h5_tree(file.create_group("info"), info)
    return file_path


def spike_times_for_readers(sorting, unit_id, fs: float) -> np.ndarray:
    """Spike times in s from the first sample (MEArec's file time base, whatever ``spiketrains.t_start``)
    that readers turn back into the same frames with floor(t * fs): a thousandth of a sample after
    the frame, so rounding cannot move it to the previous one."""
    return (sorting.get_unit_spike_train(unit_id) + 1e-3) / fs


def _contact_positions(probe) -> np.ndarray:
    positions = np.asarray(probe.contact_positions, dtype=float)
    return np.column_stack([positions, np.zeros(len(positions))]) if positions.shape[1] == 2 else positions


def _info_tree(recording, sorting, electrodes: dict) -> dict:
    from si_recsim.params.recordings import get_default_recording_params

    params = recording.get_annotation(PARAMS_ANNOTATION) or get_default_recording_params()
    library = recording.get_template_library() if isinstance(recording, SimulatedRecording) else None
    fs = recording.sampling_frequency
    recordings = {**params["recordings"], "fs": fs, "duration": recording.get_num_samples() / fs,
                  "dtype": np.dtype(recording.get_dtype()).name, "n_neurons": sorting.get_num_units()}
    spiketrains = {key: value for key, value in params["spiketrains"].items() if value is not None}
    templates = {key: value for key, value in params["templates"].items() if value is not None}
    if library is not None:  # MEArec keeps the library's window, which tells readers where the trough is
        templates["cut_out"] = [library.nbefore / library.sampling_frequency * 1000.0,
                                (library.templates.shape[-2] - library.nbefore) / library.sampling_frequency * 1000.0]
    return dict(recordings=recordings, spiketrains=spiketrains, templates=templates,
                cell_types=params["cell_types"],
                seeds={key: value for key, value in params["seeds"].items() if value is not None},
                electrodes=electrodes)


def _write_drift(file: h5py.File, recording) -> None:
    """si_recsim's drift as MEArec's ``drift_list``: one signal, sampled at its own times."""
    drift = recording.get_drift_model() if isinstance(recording, SimulatedRecording) else None
    if drift is None:
        return
    middle = drift.n_steps // 2
    lengths = np.linalg.norm(drift.trajectories[:, -1] - drift.trajectories[:, 0], axis=1)
    step_um = float(lengths.min()) / (drift.n_steps - 1)
    spacing = np.diff(drift.times)
    write_h5_tree(file.create_group("drift_list/0"), dict(
        drift_vector_um=drift.signal_um.astype(np.float32),
        drift_vector_idxs=(np.rint(drift.signal_um / step_um)).astype(np.int16),
        drift_fs=float(1.0 / np.median(spacing)) if len(spacing) else 1.0,
        drift_times=drift.times,
        drift_factors=drift.factors,
        drift_steps=int(drift.n_steps),
        middle_step=int(middle)))


def _write_templates(file: h5py.File, recording, sorting, plane: str) -> None:
    """si_recsim's ground truth: the selected library templates, their locations, ids and peaks."""
    if not isinstance(recording, SimulatedRecording):
        return
    library, ids = recording.get_template_library(), np.asarray(sorting.get_property("template_id"), dtype=int)
    templates = library.templates[ids]
    file.create_dataset("original_templates", data=np.swapaxes(templates, -1, -2).astype(np.float32))
    file.create_dataset("template_locations", data=si_to_mearec_positions(library.locations[ids], plane))
    if library.rotations is not None:
        file.create_dataset("template_rotations", data=si_to_mearec_rotations(library.rotations[ids], plane))
    file.create_dataset("template_celltypes", data=library.cell_models[ids].astype(object),
                        dtype=h5py.string_dtype())
    file.create_dataset("template_ids", data=np.asarray(ids, dtype=np.int64))
    static = templates if templates.ndim == 3 else templates[:, templates.shape[1] // 2]
    troughs = np.argmin(static.min(axis=2), axis=1)
    file.create_dataset("voltage_peaks", data=-static[np.arange(len(ids)), troughs].astype(float))
