"""The ground-truth units of a recording: spike trains, the templates they carry, and their properties.

:func:`build_units` is everything a ground-truth *sorting* needs, and no more: it draws (or takes)
the spike trains, selects one library template per unit, adds synchrony between spatially
overlapping units, chooses bursting and drifting units, and derives the per-unit properties. It
never builds the trace engine. The recording rebuilds its engine from the sorting's spike frames
and properties (:mod:`si_recsim.recording.engine`), so the two agree by construction.

Every random draw comes from a stage seed of ``params.seeds`` and a fixed spawn key
(:func:`stage_rng`), so the same parameters give the same units in any process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from si_recsim.library.bank_library import DRIFT_STEP_UM, drift_trajectories, is_bank_library
from si_recsim.library.cell_classes import cell_category
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import RecordingParameters, RecordingSectionParams
from si_recsim.recording.drift import (
    DriftModel,
    build_drift,
    load_motion,
    motion_direction,
    motion_extent_um,
    preferred_direction,
)
from si_recsim.recording.filtering import butterworth
from si_recsim.recording.selection import overlapping_pairs, select_library_templates
from si_recsim.recording.spiketrains import SpikeTrains, add_synchrony, generate_spike_trains, spike_trains_from_times
from si_recsim.recording.template_processing import resample_template


def stage_rng(params: RecordingParameters, stage: str, *keys: int) -> np.random.Generator:
    """Generator of one stage (``params.stage_seed(stage)``) and spawn key ``keys``."""
    return np.random.default_rng(np.random.SeedSequence(params.stage_seed(stage), spawn_key=keys))


def recording_library(params: RecordingParameters, library: TemplateLibrary) -> TemplateLibrary:
    """The library as the recording uses it: drifting only when ``recordings.drifting`` asks for it (a
    library computed from a cell bank stays static: its units' trajectories are computed on demand)."""
    if params.recordings.drifting:
        if library.drift_steps is None and not is_bank_library(library):
            raise ParameterError(
                "recordings.drifting = true needs a drifting template library (si-recsim gen-templates --set "
                "drifting=true) or templates from a cell bank (the default): give one, or set recordings.drifting "
                "to false."
            )
        return library
    return library.static()


def num_samples(params: RecordingParameters, sampling_frequency: float) -> int:
    """Samples of the recording: ``spiketrains.duration`` s at ``sampling_frequency`` Hz."""
    return int(round(float(params.spiketrains.duration) * sampling_frequency))


def sampling_frequency(params: RecordingParameters, library: TemplateLibrary) -> float:
    """``recordings.fs``, or the library's rate when it is null (Hz)."""
    return float(params.recordings.fs or library.sampling_frequency)


@dataclass
class GroundTruthUnits:
    """Units of a ground-truth recording (one entry per unit).

    Attributes
    ----------
    frames : list of np.ndarray
        Sorted spike sample indices per unit (int64), relative to ``t_start``.
    template_ids, unit_types, cell_models, locations, firing_rates, bursting, main_channel_indices,
    template_peaks, filtered_peaks, drifting : np.ndarray
        Library index, ``"E"``/``"I"``, cell model name, (n_units, 3) µm (middle of the trajectory
        for drifting units), target rate Hz, bool, channel index of the largest trough, absolute
        negative peak µV of the (unfiltered) library template, the same on the main channel after the
        recording's filter (what a sorter sees), bool.
    voltage_peaks : np.ndarray
        (n_units, n_channels) absolute negative peak of the library template on every channel, µV
        (MEArec's ``voltage_peaks``; middle drift step).
    snr : np.ndarray
        MEArec's SNR: template peak / ``noise_level``.
    overlapping : np.ndarray
        (n_pairs, 2) unit indices whose templates overlap spatially.
    """

    frames: list
    template_ids: np.ndarray
    unit_types: np.ndarray
    cell_models: np.ndarray
    locations: np.ndarray
    firing_rates: np.ndarray
    bursting: np.ndarray
    main_channel_indices: np.ndarray
    template_peaks: np.ndarray
    filtered_peaks: np.ndarray
    voltage_peaks: np.ndarray
    snr: np.ndarray
    drifting: np.ndarray
    overlapping: np.ndarray


def build_units(params: RecordingParameters, library: TemplateLibrary, spike_times: list | None = None,
                unit_types: list | None = None) -> GroundTruthUnits:
    """The units of a recording from validated parameters (with concrete seeds) and a library.

    Parameters
    ----------
    params : RecordingParameters
        Output of :func:`si_recsim.params.build_params`.
    library : TemplateLibrary
    spike_times : list of array-like | None, default: None
        User spike trains in seconds (replacing the drawn ones), within
        ``[t_start, t_start + duration)``.
    unit_types : list of str | None, default: None
        ``"E"``/``"I"`` per user spike train (default all ``"E"``).

    Returns
    -------
    units : GroundTruthUnits
    """
    library = recording_library(params, library)
    fs = sampling_frequency(params, library)
    t_start = float(params.spiketrains.t_start)
    if spike_times is not None:
        trains = spike_trains_from_times(spike_times, t_start, t_start + float(params.spiketrains.duration), unit_types)
    else:
        trains = generate_spike_trains(params.spiketrains, params.seeds.spiketrains)

    template_ids = _choose_templates(library, trains, params)
    if params.templates.template_ids is not None:
        trains = _trains_by_template_category(trains, library.cell_models[template_ids], params)
    static = library.static()
    overlapping = overlapping_pairs(static.templates[template_ids], params.templates.overlap_threshold)
    if params.recordings.sync_rate and len(overlapping):
        trains = add_synchrony(trains, overlapping, float(params.recordings.sync_rate),
                               float(params.recordings.sync_jitt) / 1000.0,
                               float(params.spiketrains.ref_per) / 1000.0, stage_rng(params, "spiketrains", 1))
    n_samples = num_samples(params, fs)
    frames = [np.clip(np.floor((times - t_start) * fs).astype(np.int64), 0, n_samples - 1) for times in trains.times]
    drift = unit_drift(params, library, template_ids)
    selected = static.templates[template_ids]
    main_channels = np.argmin(selected.min(axis=1), axis=1)
    template_peaks = library.amplitudes()[template_ids]
    noise_level = float(params.recordings.noise_level)
    return GroundTruthUnits(
        frames=frames,
        template_ids=template_ids,
        unit_types=trains.types,
        cell_models=library.cell_models[template_ids],
        locations=static.locations[template_ids],
        firing_rates=trains.rates,
        bursting=_bursting_units(trains.num_units, params.recordings, stage_rng(params, "convolution", 2)),
        main_channel_indices=main_channels,
        template_peaks=template_peaks,
        filtered_peaks=_filtered_peaks(selected[np.arange(len(template_ids)), :, main_channels], static.nbefore,
                                       static.sampling_frequency, fs, params.recordings),
        voltage_peaks=-selected.min(axis=1),
        snr=template_peaks / noise_level if noise_level > 0 else np.full(len(template_ids), np.inf),
        drifting=np.zeros(len(template_ids), dtype=bool) if drift is None else drift.factors != 0,
        overlapping=overlapping,
    )


def unit_drift(params: RecordingParameters, library: TemplateLibrary, template_ids: np.ndarray) -> DriftModel | None:
    """The drift of the units carrying ``template_ids`` (None when ``recordings.drifting`` is false).

    A drifting library gives the trajectories; with a static library from a cell bank they are
    straight lines along ``preferred_dir`` centred on the units, as long as the drift needs
    (:func:`drift_length_um`), or along a ``recordings.motion``'s direction, twice its largest
    displacement long.
    """
    if not params.recordings.drifting:
        return None
    library = recording_library(params, library)
    section = params.recordings
    motion = None
    if section.motion is not None:
        if library.drift_steps is not None:
            raise ParameterError("recordings.motion moves units computed from a cell bank (the default templates); "
                                 "a drifting library has its own trajectories: use one or the other.")
        motion = load_motion(section.motion)
        length = max(2.0 * motion_extent_um(motion), 2 * DRIFT_STEP_UM)
        trajectories = drift_trajectories(library.locations[template_ids], motion_direction(motion), length)
    elif library.drift_steps is not None:
        trajectories = library.locations[template_ids]
    else:
        trajectories = drift_trajectories(library.locations[template_ids], preferred_direction(section),
                                          drift_length_um(section))
    return build_drift(section, trajectories, float(params.spiketrains.t_start), float(params.spiketrains.duration),
                       stage_rng(params, "convolution", 3), motion)


#: trajectory length of on-demand drift without an explicit amplitude (MEArec's longest drift, µm)
DEFAULT_DRIFT_LENGTH_UM = 100.0


def drift_length_um(section: RecordingSectionParams) -> float:
    """Length of on-demand drift trajectories: twice the largest external displacement, else
    ``slow_drift_amplitude`` (peak to peak), else :data:`DEFAULT_DRIFT_LENGTH_UM`; at least
    ``fast_drift_max_jump``."""
    if section.external_drift_um is not None:
        return max(2.0 * float(np.max(np.abs(section.external_drift_um))), 2 * DRIFT_STEP_UM)
    length = float(section.slow_drift_amplitude or DEFAULT_DRIFT_LENGTH_UM)
    return max(length, float(section.fast_drift_max_jump), 2 * DRIFT_STEP_UM)


def _choose_templates(library: TemplateLibrary, trains: SpikeTrains, params: RecordingParameters) -> np.ndarray:
    ids = params.templates.template_ids
    if ids is None:
        section = params.recordings
        direction = preferred_direction(section) if library.drift_steps is not None else None
        return select_library_templates(library, trains.types, params.templates, params.cell_types,
                                stage_rng(params, "templates", 0), direction, float(section.angle_tol))
    ids = np.asarray(ids, dtype=int)
    if ids.size != trains.num_units:
        raise ParameterError(
            f"templates.template_ids lists {ids.size} templates for {trains.num_units} units: give one per unit."
        )
    if ids.max() >= library.num_templates:
        raise ParameterError(
            f"templates.template_ids contains {ids.max()} but the library has {library.num_templates} templates."
        )
    return ids


def _trains_by_template_category(trains: SpikeTrains, cell_models: np.ndarray, params: RecordingParameters) -> SpikeTrains:
    """Give each explicitly chosen template a spike train of its cell model's category (E trains to
    excitatory models, I trains to inhibitory ones, in order); models of unknown category keep their slot."""
    lists = params.cell_types
    categories = np.array([cell_category(name, lists.excitatory, lists.inhibitory) for name in cell_models])
    known = categories != "U"
    wanted = {kind: int(np.sum(categories == kind)) for kind in "EI"}
    available = {kind: int(np.sum(trains.types[known] == kind)) for kind in "EI"}
    if wanted != available:
        raise ParameterError(
            f"templates.template_ids chooses {wanted['E']} excitatory and {wanted['I']} inhibitory cell models where the "
            f"spike trains have {available['E']} E and {available['I']} I: match spiketrains.n_exc/n_inh (or types) to "
            "the templates' cell types.")
    order = np.arange(trains.num_units)
    for kind in "EI":
        order[known & (categories == kind)] = np.flatnonzero(known & (trains.types == kind))
    return SpikeTrains(times=[trains.times[index] for index in order], rates=trains.rates[order],
                       types=trains.types[order], t_start=trains.t_start, t_stop=trains.t_stop)


def _filtered_peaks(waveforms: np.ndarray, nbefore: int, fs_library: float, fs: float,
                    section: RecordingSectionParams) -> np.ndarray:
    """Absolute negative peak of each (n_units, n_samples) main-channel waveform after the recording's
    filter, at the recording's rate (zero-padded so the filter's ringing fits)."""
    import scipy.signal

    pad = int(round(0.02 * fs_library))
    padded = np.pad(np.asarray(waveforms, dtype=float), ((0, 0), (pad, pad)))
    if fs != fs_library:
        padded = np.stack([resample_template(row[:, None], fs_library, fs)[:, 0] for row in padded])
    if section.filter:
        recording_filter = butterworth(section.filter_cutoff, int(section.filter_order), fs, section.filter_mode)
        apply = scipy.signal.sosfiltfilt if recording_filter.zero_phase else scipy.signal.sosfilt
        padded = apply(recording_filter.sos, padded, axis=1)
    return np.abs(np.minimum(padded.min(axis=1), 0.0))


def _bursting_units(n_units: int, section: RecordingSectionParams, rng: np.random.Generator) -> np.ndarray:
    bursting = np.zeros(n_units, dtype=bool)
    if not section.bursting:
        return bursting
    if section.bursting_units is not None:
        units = np.asarray(section.bursting_units, dtype=int)
        if units.size and units.max() >= n_units:
            raise ParameterError(f"recordings.bursting_units names unit {units.max()} but there are {n_units} units.")
        bursting[units] = True
    elif section.n_bursting is not None:
        if section.n_bursting > n_units:
            raise ParameterError(f"recordings.n_bursting ({section.n_bursting}) exceeds the {n_units} units.")
        bursting[rng.choice(n_units, int(section.n_bursting), replace=False)] = True
    else:
        bursting[:] = True
    return bursting
