"""Recordings and their ground truth written as MEArec recording files (``gen_recordings`` output).

The file holds what ``spikeinterface.extractors.read_mearec``, ``MEArec.load_recordings`` and MEArec's
tools read, with the meaning MEArec gives it:

- the time base starts at the first sample (spike times are ``frame / fs``; ``spiketrains.t_start``
  stays in ``info``), and ``info/recordings/duration`` is chosen so that readers count every sample;
- traces keep their dtype and ``gain_to_uV`` when every channel has the same gain and no offset,
  otherwise they are written in µV as float32 (the format has one gain);
- spike trains carry MEArec's annotations (``cell_type``, ``mtype``, ``fr``, ``snr``,
  ``soma_position`` along the trajectory of drifting units, ``drifting``, ``bursting`` and its
  parameters, ``overlap`` labels with ``recordings.overlap``);
- ``templates`` (the jittered copies actually convolved; MEArec's loader reads the other template
  datasets only when it is there), ``original_templates``, ``template_locations``,
  ``template_rotations``, ``template_celltypes``, ``template_ids``, ``voltage_peaks``,
  ``spike_traces``, ``timestamps`` and ``drift_list``;
- converting a MEArec file copies its own ground truth, parameters and seeds; a ground-truth folder
  brings the parameters and templates it was saved with.

Traces, spike traces and timestamps are streamed chunk by chunk (memory flat in duration).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import h5py
import numpy as np

from si_recsim.atomic import atomic_h5
from si_recsim.errors import InputError
from si_recsim.io.mearec_recording import MEAREC_FORMAT_VERSION, MEArecFileRecording, MEArecFileSorting
from si_recsim.library.mearec_templates import si_to_mearec_rotations, write_h5_tree
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.probes import mearec_electrodes_info, si_to_mearec_positions
from si_recsim.recording.extractors import PARAMS_ANNOTATION, SimulatedRecording
from si_recsim.recording.ground_truth import UNIT_TEMPLATES_ANNOTATION
from si_recsim.recording.overlap import OVERLAPPING_PAIRS_ANNOTATION, overlap_labels
from si_recsim.recording.spike_traces import UnitSpikeTracesRecording
from si_recsim.version import __version__

#: datasets of a MEArec file that describe its units (copied as they are when converting MEArec files)
UNIT_DATASETS = ("templates", "original_templates", "template_locations", "template_rotations", "template_celltypes",
                 "template_ids", "voltage_peaks", "spike_traces", "drift_list")


def write_mearec_recording(recording, sorting, file_path: str | Path, chunk_duration: float = 1.0,
                           progress_bar: bool = True, overwrite: bool = False) -> Path:
    """Write a recording and its ground-truth sorting as a MEArec recording file.

    Parameters
    ----------
    recording : BaseRecording
        Any single-segment SpikeInterface recording with a 2-D probe. si_recsim's simulated
        recordings also write their parameters, seeds, templates, spike traces and drift; a recording
        read from a MEArec file (:class:`~si_recsim.io.mearec_recording.MEArecFileRecording`) carries
        that file's own; one loaded from a ground-truth folder its parameters and templates.
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
    if recording.get_num_segments() != 1:
        raise InputError("MEArec files hold one segment: select one with recording.select_segments([i]).")
    file_path = Path(file_path)
    electrodes = mearec_electrodes_info(recording.get_probe())
    source = recording._kwargs["file_path"] if isinstance(recording, MEArecFileRecording) else None
    step = max(1, int(chunk_duration * recording.sampling_frequency))
    with atomic_h5(file_path, overwrite=overwrite) as file:
        file.attrs["mearec_version"] = MEAREC_FORMAT_VERSION
        file.attrs["date"] = datetime.datetime.now().strftime("%y-%m-%d %H:%M:%S")
        file.attrs["si_recsim_version"] = __version__
        dtype = _write_traces(file, recording, step, progress_bar)
        file.create_dataset("channel_positions", data=si_to_mearec_positions(_contact_positions(recording.get_probe()),
                                                                              electrodes["plane"]))
        _write_timestamps(file, recording.get_num_samples(), recording.sampling_frequency, step)
        if source is not None:
            with h5py.File(source, "r") as original:
                for name in UNIT_DATASETS:
                    if name in original:
                        original.copy(original[name], file, name)
        elif isinstance(recording, SimulatedRecording):
            _write_simulated_templates(file, recording, electrodes["plane"])
            _write_spike_traces(file, UnitSpikeTracesRecording(recording), step, progress_bar)
            _write_drift(file, recording)
        elif recording.get_annotation(UNIT_TEMPLATES_ANNOTATION):
            _write_library_templates(file, sorting, recording.get_annotation(UNIT_TEMPLATES_ANNOTATION),
                                     electrodes["plane"])
        _write_spiketrains(file, sorting, recording, source)
        write_h5_tree(file.create_group("info"), _info_tree(recording, sorting, electrodes, dtype))
    return file_path


def spike_times_for_readers(sorting, unit_id, fs: float) -> np.ndarray:
    """Spike times in s from the first sample (MEArec's file time base, whatever ``spiketrains.t_start``)
    that readers turn back into the same frames with floor(t * fs): a thousandth of a sample after
    the frame, so rounding cannot move it to the previous one."""
    return (sorting.get_unit_spike_train(unit_id) + 1e-3) / fs


def duration_for_readers(n_samples: int, fs: float) -> float:
    """The ``duration`` (s) from which readers, counting ``int(fs * duration)`` frames, get ``n_samples``."""
    duration = n_samples / fs
    while int(fs * duration) < n_samples:
        duration = float(np.nextafter(duration, np.inf))
    return duration


def _write_traces(file: h5py.File, recording, step: int, progress_bar: bool) -> np.dtype:
    """Traces in their own dtype and gain when the format can say it (one gain, no offset), else float32 µV."""
    from tqdm.auto import tqdm

    n_samples, n_channels = recording.get_num_samples(), recording.get_num_channels()
    scaleable = recording.has_scaleable_traces()
    gains = np.asarray(recording.get_channel_gains() if scaleable else np.ones(n_channels), dtype=float)
    offsets = np.asarray(recording.get_channel_offsets() if scaleable else np.zeros(n_channels), dtype=float)
    one_gain = bool(np.all(gains == gains[0]) and np.all(offsets == 0))
    dtype = np.dtype(recording.get_dtype()) if one_gain else np.dtype(np.float32)
    traces = file.create_dataset("recordings", shape=(n_samples, n_channels), dtype=dtype)
    traces.attrs["gain_to_uV"] = float(gains[0]) if one_gain else 1.0
    for start in tqdm(range(0, n_samples, step), desc="write MEArec", disable=not progress_bar):
        stop = min(start + step, n_samples)
        chunk = recording.get_traces(start_frame=start, end_frame=stop, return_in_uV=not one_gain)
        traces[start:stop] = chunk.astype(dtype, copy=False)
    return dtype


def _write_timestamps(file: h5py.File, n_samples: int, fs: float, step: int) -> None:
    timestamps = file.create_dataset("timestamps", shape=(n_samples,), dtype=np.float64)
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        timestamps[start:stop] = np.arange(start, stop) / fs


def _write_spike_traces(file: h5py.File, spike_traces, step: int, progress_bar: bool) -> None:
    from tqdm.auto import tqdm

    n_samples = spike_traces.get_num_samples()
    dataset = file.create_dataset("spike_traces", shape=(n_samples, spike_traces.get_num_channels()), dtype=np.float32)
    for start in tqdm(range(0, n_samples, step), desc="spike traces", disable=not progress_bar):
        stop = min(start + step, n_samples)
        dataset[start:stop] = spike_traces.get_traces(start_frame=start, end_frame=stop)


def _write_spiketrains(file: h5py.File, sorting, recording, source: str | None) -> None:
    fs, n_samples = recording.sampling_frequency, recording.get_num_samples()
    params = recording.get_annotation(PARAMS_ANNOTATION) or {}
    locations = None
    if isinstance(recording, SimulatedRecording):
        locations = recording.get_unit_template_library().locations
    original = h5py.File(source, "r") if source is not None and isinstance(sorting, MEArecFileSorting) else None
    labels = overlap_labels(sorting) if params.get("recordings", {}).get("overlap") else None
    try:
        for unit_index, unit_id in enumerate(sorting.unit_ids):
            group = file.create_group(f"spiketrains/{unit_index}")
            group.create_dataset("times", data=spike_times_for_readers(sorting, unit_id, fs))
            group.create_dataset("t_stop", data=n_samples / fs)
            if original is not None:
                for name in ("annotations", "waveforms"):
                    if name in original[f"spiketrains/{unit_index}"]:
                        original.copy(original[f"spiketrains/{unit_index}/{name}"], group, name)
            else:
                unit_locations = None if locations is None else locations[unit_index]
                annotations = _annotations(sorting, unit_index, unit_locations, params.get("recordings", {}))
                if labels is not None:
                    annotations["overlap"] = labels[unit_id].tolist()
                write_h5_tree(group.create_group("annotations"), annotations)
    finally:
        if original is not None:
            original.close()


def _annotations(sorting, unit_index: int, unit_locations: np.ndarray | None, section: dict) -> dict:
    """MEArec's spike-train annotations of one unit from the sorting's properties."""
    properties = {key: sorting.get_property(key) for key in sorting.get_property_keys()}

    def value(key, default=None):
        return properties[key][unit_index] if key in properties else default

    bursting = bool(value("bursting", False))
    annotations = dict(cell_type=str(value("cell_type", "U")), mtype=str(value("cell_model", "unknown")),
                       fr=float(value("firing_rate", np.nan)), bursting=bursting)
    if "snr" in properties:
        annotations["snr"] = float(value("snr"))
    if "drifting" in properties:
        annotations["drifting"] = bool(value("drifting"))
    if unit_locations is not None:  # along the trajectory for drifting units, as MEArec stores it
        annotations["soma_position"] = si_to_mearec_positions(np.asarray(unit_locations))
    elif "gt_unit_locations" in properties:
        annotations["soma_position"] = si_to_mearec_positions(np.asarray(value("gt_unit_locations")))
    exp_decay = section.get("exp_decay")
    annotations.update(exp_decay=exp_decay if bursting and not isinstance(exp_decay, list) else None,
                       max_spikes_per_burst=section.get("n_burst_spikes") if bursting else None,
                       max_burst_duration=section.get("max_burst_duration") if bursting else None)
    return annotations


def _write_simulated_templates(file: h5py.File, recording: SimulatedRecording, plane: str) -> None:
    """The units' jittered copies (``templates``) and library templates, positions, rotations and peaks."""
    units = recording.get_unit_template_library()
    drifting = units.drift_steps is not None
    templates = None
    for unit in range(units.num_templates):
        copies = np.swapaxes(recording.get_jittered_templates(unit)[0], -1, -2)  # (steps, jitters, channels, samples)
        copies = copies if drifting else copies[0]
        if templates is None:
            templates = file.create_dataset("templates", shape=(units.num_templates,) + copies.shape, dtype=np.float32)
        templates[unit] = copies
    _write_unit_library(file, units, recording._kwargs["sorting"].get_property("template_id"), plane)


def _write_library_templates(file: h5py.File, sorting, path: str, plane: str) -> None:
    """A ground-truth folder's saved unit templates: the library ones, and the convolved ones as
    ``templates`` with one jitter copy."""
    from si_recsim.library.library_file import read_template_library

    units = read_template_library(path)
    with h5py.File(path, "r") as saved:
        if "convolved" in saved:
            convolved = np.swapaxes(saved["convolved"][()], -1, -2)  # (units, [steps,] channels, samples)
            file.create_dataset("templates", data=np.expand_dims(convolved, axis=-3).astype(np.float32))
    template_ids = sorting.get_property("template_id")
    _write_unit_library(file, units, template_ids if template_ids is not None else np.arange(units.num_templates),
                        plane)


def _write_unit_library(file: h5py.File, units: TemplateLibrary, template_ids, plane: str) -> None:
    file.create_dataset("original_templates", data=np.swapaxes(units.templates, -1, -2).astype(np.float32))
    file.create_dataset("template_locations", data=si_to_mearec_positions(units.locations, plane))
    if units.rotations is not None:
        file.create_dataset("template_rotations", data=si_to_mearec_rotations(units.rotations, plane))
    file.create_dataset("template_celltypes", data=units.cell_models.astype(object), dtype=h5py.string_dtype())
    file.create_dataset("template_ids", data=np.asarray(template_ids, dtype=np.int64))
    file.create_dataset("voltage_peaks", data=-units.static().templates.min(axis=1).astype(float))


def _write_drift(file: h5py.File, recording: SimulatedRecording) -> None:
    """si_recsim's drift as MEArec's ``drift_list``: one signal, sampled at its own times."""
    drift = recording.get_drift_model()
    if drift is None:
        return
    lengths = np.linalg.norm(drift.trajectories[:, -1] - drift.trajectories[:, 0], axis=1)
    step_um = float(lengths.min()) / (drift.n_steps - 1)
    middle = drift.n_steps // 2
    times = drift.times - (recording.get_time_info()["t_start"] or 0.0)  # the file's time base starts at 0
    spacing = np.diff(times)
    drift_fs = round(float(1.0 / np.median(spacing)), 9) if len(spacing) else 1.0
    regular = times[0] == 0 and np.allclose(times, np.arange(len(times)) / drift_fs)
    write_h5_tree(file.create_group("drift_list/0"), dict(
        drift_vector_um=drift.signal_um.astype(np.float32),
        # the engine's own rounding (DriftModel.step_indices): readers place rigidly drifting units where the
        # traces have them; fractional factors (non-rigid drift) may differ by one step in MEArec's readers
        drift_vector_idxs=(np.rint(middle + drift.signal_um / step_um) - middle).astype(np.int16),
        drift_fs=drift_fs,
        drift_times=None if regular else times,  # MEArec's "null": sampled at drift_fs from the first sample
        drift_factors=drift.factors,
        drift_steps=int(drift.n_steps),
        middle_step=int(middle)))


def _contact_positions(probe) -> np.ndarray:
    positions = np.asarray(probe.contact_positions, dtype=float)
    return np.column_stack([positions, np.zeros(len(positions))]) if positions.shape[1] == 2 else positions


def _info_tree(recording, sorting, electrodes: dict, dtype: np.dtype) -> dict:
    """MEArec's ``info``: the source's own parameters and seeds (a MEArec file's ``info``, si_recsim's
    parameters), the defaults for recordings that have none; fs, duration, dtype and probe from the data."""
    from si_recsim.params.recordings import get_default_recording_params

    fs, n_samples = recording.sampling_frequency, recording.get_num_samples()
    mearec_info = recording.get_annotation("mearec_info")
    if mearec_info is not None:
        info = {key: value for key, value in mearec_info.items() if key != "electrodes"}
        recordings = dict(info.get("recordings", {}))
    else:
        params = recording.get_annotation(PARAMS_ANNOTATION) or get_default_recording_params()
        recordings = dict(params["recordings"])
        info = dict(spiketrains={key: value for key, value in params["spiketrains"].items() if value is not None},
                    templates={key: value for key, value in params["templates"].items() if value is not None},
                    cell_types=params["cell_types"],
                    seeds={key: value for key, value in params["seeds"].items() if value is not None})
        if isinstance(recording, SimulatedRecording):  # MEArec keeps the library's window: readers find the trough
            library = recording.get_template_library()
            info["templates"]["cut_out"] = [library.nbefore / library.sampling_frequency * 1000.0,
                                            (library.templates.shape[-2] - library.nbefore)
                                            / library.sampling_frequency * 1000.0]
    recordings.update(fs=fs, duration=duration_for_readers(n_samples, fs), dtype=np.dtype(dtype).name,
                      n_neurons=sorting.get_num_units())
    pairs = sorting.get_annotation(OVERLAPPING_PAIRS_ANNOTATION)
    if mearec_info is None and pairs is not None:
        info["templates"]["overlapping"] = pairs
    info.update(recordings=recordings, electrodes=electrodes)
    return info
