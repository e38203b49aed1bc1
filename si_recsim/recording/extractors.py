"""The lazy ground-truth recording and its sorting as SpikeInterface extractors.

The sorting (:class:`SimulatedSorting`) is built from the parameters and the template library
alone: spike trains, template selection and unit properties, no trace engine. The recording
(:class:`SimulatedRecording`) takes its sorting, as SpikeInterface's ``InjectTemplatesRecording``
does, and computes every window on demand from the sorting's spike frames and properties.

Both are rebuilt from their keyword arguments (the parameter tree with concrete seeds, the library
by name, file path (``template_library_path``) or arrays), so they pickle, go to worker processes
and into ``run_sorter`` without being saved first; with a library named or given by path they also
dump to JSON. A library held only in memory travels as arrays (pickle), never as JSON text.
"""

from __future__ import annotations

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment, BaseSorting, BaseSortingSegment
from spikeinterface.core.core_tools import define_function_from_class

from si_recsim.errors import InputError
from si_recsim.jobs import exit_with_parent
from si_recsim.library.loading import load_template_library
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import RecordingParameters, build_params
from si_recsim.probes import wired_copy
from si_recsim.recording.drift import DriftModel
from si_recsim.recording.engine import TraceEngine, build_engine
from si_recsim.recording.overlap import OVERLAPPING_PAIRS_ANNOTATION
from si_recsim.recording.units import build_units, recording_library, sampling_frequency

PARAMS_ANNOTATION = "si_recsim_params"
LIBRARY_ANNOTATION = "template_library_source"


def _library_from_kwargs(template_library, template_library_path) -> TemplateLibrary:
    if (template_library is None) == (template_library_path is None):
        raise InputError("Give exactly one of template_library (a name, or arrays) and template_library_path.")
    return load_template_library(template_library_path if template_library_path is not None else template_library)


def library_as_arrays(template_library) -> bool:
    """A library passed as arrays: pickles, but would be megabytes of JSON text."""
    return isinstance(template_library, dict) and "templates" in template_library


class SimulatedSorting(BaseSorting):
    """Ground-truth spike trains of a simulated recording, with unit properties.

    Properties: ``gt_unit_locations`` (n_units, 3) µm (the middle of the trajectory for drifting
    units), ``main_channel_id``, ``cell_type`` (``"E"``/``"I"``), ``cell_model``, ``template_id``
    (library index), ``firing_rate`` (target, Hz), ``bursting``, ``drifting``, ``template_peak_uV``
    (absolute negative peak of the unfiltered library template, all channels), ``filtered_peak_uV``
    (the same on the main channel after the recording's filter: the amplitude a sorter sees, before
    noise and modulation), ``voltage_peaks`` ((n_units, n_channels) absolute negative peak per
    channel of the library template, MEArec's), ``snr`` (MEArec's: template peak / ``noise_level``),
    ``template_rotation`` ((n_units, 3) Euler angles in radians, when the library knows them).
    Annotations: ``si_recsim_params`` (the complete parameters with the seeds used),
    ``template_library_source`` and ``overlapping_pairs`` (unit indices of spatially overlapping
    templates; :func:`si_recsim.overlap_labels` labels spikes).

    Parameters
    ----------
    params : dict | RecordingParameters | None, default: None
        Parameters in MEArec's ``recordings_params.yaml`` layout; missing keys take the defaults and
        null seeds are drawn (see :func:`si_recsim.params.build_params`).
    template_library : str | dict | None, default: "default"
        ``"default"``, a description (``{"bank": ...}`` from
        :func:`si_recsim.library.bank_library.bank_library_spec`, ``{"analytic": ...}``) or a
        library's arrays (:meth:`si_recsim.library.TemplateLibrary.to_spec`); None with
        ``template_library_path``.
    template_library_path : str | None, default: None
        An si_recsim library file or a MEArec template file.
    spike_times : list of list of float | None, default: None
        User spike trains in seconds (one per unit) instead of drawn ones.
    unit_types : list of str | None, default: None
        ``"E"``/``"I"`` per user spike train.
    """

    def __init__(self, params: dict | RecordingParameters | None = None, template_library="default",
                 template_library_path: str | None = None,
                 spike_times: list | None = None, unit_types: list | None = None):
        params = build_params(params)
        library = _library_from_kwargs(template_library, template_library_path)
        units = build_units(params, library, spike_times, unit_types)
        fs = sampling_frequency(params, library)
        unit_ids = np.arange(len(units.frames)).astype(str)
        BaseSorting.__init__(self, fs, unit_ids)
        self.add_sorting_segment(SimulatedSortingSegment(units.frames, unit_ids,
                                                         params.spiketrains.t_start))
        channel_ids = np.arange(library.num_channels).astype(str)
        self.set_property("gt_unit_locations", units.locations)
        self.set_property("main_channel_id", channel_ids[units.main_channel_indices])
        self.set_property("cell_type", units.unit_types)
        self.set_property("cell_model", units.cell_models)
        self.set_property("template_id", units.template_ids)
        self.set_property("firing_rate", units.firing_rates)
        self.set_property("bursting", units.bursting)
        self.set_property("drifting", units.drifting)
        self.set_property("template_peak_uV", units.template_peaks)
        self.set_property("filtered_peak_uV", units.filtered_peaks)
        self.set_property("voltage_peaks", units.voltage_peaks)
        self.set_property("snr", units.snr)
        rotations = recording_library(params, library).rotations
        if rotations is not None:
            self.set_property("template_rotation", rotations[units.template_ids])
        self.annotate(**{PARAMS_ANNOTATION: params.model_dump(), LIBRARY_ANNOTATION: library.source,
                         OVERLAPPING_PAIRS_ANNOTATION: np.asarray(units.overlapping, dtype=int).tolist()})
        self.name = "si_recsim ground-truth sorting"
        self.extra_requirements.append("si_recsim")
        if library_as_arrays(template_library):
            self._serializability["json"] = False
        self._kwargs = dict(params=params.model_dump(), template_library=template_library,
                            template_library_path=template_library_path, spike_times=spike_times,
                            unit_types=unit_types)


class SimulatedSortingSegment(BaseSortingSegment):
    def __init__(self, frames: list, unit_ids: np.ndarray, t_start: float):
        BaseSortingSegment.__init__(self, t_start=t_start)
        self.frames = dict(zip(unit_ids, frames))

    def get_unit_spike_train(self, unit_id, start_frame, end_frame):
        frames = self.frames[unit_id]
        low = 0 if start_frame is None else np.searchsorted(frames, start_frame)
        high = frames.size if end_frame is None else np.searchsorted(frames, end_frame)
        return frames[low:high]


class InjectedUnitsAccess:
    """The ground truth of a recording whose units are injected by a trace engine: their templates
    (as selected, and as injected), locations, drift and the engine's block grid.

    A recording calls :meth:`_inject_units` first, which builds the engine of its sorting's units.
    """

    def _inject_units(self, sorting: BaseSorting, params: dict | RecordingParameters | None, template_library,
                      template_library_path: str | None) -> tuple[RecordingParameters, TemplateLibrary, TraceEngine]:
        """Build and keep the engine of ``sorting``'s units (arguments of :class:`SimulatedRecording`).

        Returns
        -------
        params : RecordingParameters
            Complete, with concrete seeds (None took the sorting's ``si_recsim_params``).
        library : TemplateLibrary
            As loaded from ``template_library`` / ``template_library_path``.
        engine : TraceEngine
        """
        params = build_params(params if params is not None else sorting.get_annotation(PARAMS_ANNOTATION))
        library = _library_from_kwargs(template_library, template_library_path)
        template_ids = np.asarray(sorting.get_property("template_id"), dtype=int)
        if template_ids.size and template_ids.max() >= library.num_templates:
            raise ParameterError(f"The sorting uses template {template_ids.max()} but the library has "
                                 f"{library.num_templates}: give the library the sorting was made with.")
        fs = sampling_frequency(params, library)
        if sorting.get_num_segments() != 1 or sorting.sampling_frequency != fs:
            raise InputError(f"The sorting must have one segment at the recording's {fs} Hz.")
        frames = [np.asarray(sorting.get_unit_spike_train(unit_id, use_cache=False), dtype=np.int64)
                  for unit_id in sorting.unit_ids]
        bursting = np.asarray(sorting.get_property("bursting"), dtype=bool)
        self._engine = build_engine(params, library, frames, template_ids, bursting)
        self._library = recording_library(params, library)
        self._template_ids = template_ids
        self._unit_ids = sorting.unit_ids
        return params, library, self._engine

    def get_template_library(self) -> TemplateLibrary:
        """The library the units' templates come from (drifting only for drifting recordings)."""
        return self._library

    def get_unit_templates(self, kind: str = "library"):
        """The units' templates as SpikeInterface ``Templates`` (dense, µV, unit ids of the sorting).

        Parameters
        ----------
        kind : "library" | "convolved", default: "library"
            ``"library"``: as selected from the library, at its sampling rate (the middle drift step of
            drifting units). ``"convolved"``: what the traces are built from, at the recording's rate:
            padded, resampled and tapered, the mean of each unit's jittered copies (the expected
            waveform of a spike before amplitude modulation; the middle drift step). Neither is filtered.
        """
        from spikeinterface.core import Templates

        if kind == "library":
            library = self._library.static()
            array, fs, nbefore = library.templates[self._template_ids], library.sampling_frequency, library.nbefore
        elif kind == "convolved":
            middles = []
            for unit in range(len(self._unit_ids)):  # one unit's drift steps in memory at a time
                template, _ = self.get_convolved_template(unit)
                middles.append(template[template.shape[0] // 2])
            array = np.stack(middles)
            fs, nbefore = self.sampling_frequency, self._engine.injector.nbefore
        else:
            raise InputError(f"kind must be 'library' or 'convolved', got {kind!r}.")
        return Templates(templates_array=array, sampling_frequency=fs, nbefore=nbefore, probe=self.get_probe(),
                         unit_ids=self._unit_ids, channel_ids=self.channel_ids, is_in_uV=True)

    def get_unit_template_library(self) -> TemplateLibrary:
        """The units' own templates in unit order (a :class:`TemplateLibrary`, library rate); drifting
        recordings keep the drift axis, along each unit's trajectory."""
        return self._engine.unit_templates()

    def get_jittered_templates(self, unit_index: int) -> tuple[np.ndarray, int]:
        """The sub-sample-jittered copies a unit's spikes are drawn from, at the recording's rate.

        Returns
        -------
        copies : np.ndarray
            (n_drift_steps, n_jitters, n_samples, n_channels) float32 µV (n_drift_steps = 1 without drift).
        nbefore : int
            Sample of the spike time.
        """
        return self._engine.jittered_templates(int(unit_index)), self._engine.injector.nbefore

    def get_convolved_template(self, unit_index: int) -> tuple[np.ndarray, int]:
        """A unit's convolved template: the mean of its jittered copies (the expected waveform of a spike
        before amplitude modulation), at the recording's rate.

        Returns
        -------
        template : np.ndarray
            (n_drift_steps, n_samples, n_channels) float32 µV.
        nbefore : int
        """
        copies, nbefore = self.get_jittered_templates(unit_index)
        return copies.mean(axis=1), nbefore

    def get_unit_locations(self) -> np.ndarray:
        """(n_units, 3) soma positions in µm (the middle of the trajectory of drifting units)."""
        return self._library.static().locations[self._template_ids]

    def get_drift_model(self) -> DriftModel | None:
        """The drift that moves the units (None when ``recordings.drifting`` is false)."""
        return self._engine.drift

    def get_block_size(self) -> int:
        """Samples per block of the fixed grid on which noise and filtering are computed."""
        return self._engine.block_size


class SimulatedRecording(InjectedUnitsAccess, BaseRecording):
    """Lazy ground-truth recording of a sorting's units: every window is computed on demand.

    The units are those of ``sorting`` (its spike frames and its ``template_id`` and ``bursting``
    properties); templates, modulation, drift, noise and filter come from ``params`` and the library.
    Annotations: ``si_recsim_params``, ``template_library_source``, ``is_filtered``.

    Parameters
    ----------
    sorting : SimulatedSorting
        The ground truth (or any one-segment sorting at the recording's rate with those properties).
    params : dict | RecordingParameters | None, default: None
        As for :class:`SimulatedSorting`; None takes the sorting's ``si_recsim_params``.
    template_library, template_library_path
        As for :class:`SimulatedSorting` (the same library as the sorting's).
    """

    def __init__(self, sorting: BaseSorting, params: dict | RecordingParameters | None = None, template_library="default",
                 template_library_path: str | None = None):
        params, library, engine = self._inject_units(sorting, params, template_library, template_library_path)
        BaseRecording.__init__(self, engine.sampling_frequency, np.arange(library.num_channels).astype(str),
                               engine.dtype)
        self.set_probe(wired_copy(library.probe))
        self.set_channel_gains(engine.gain_to_uV)
        self.set_channel_offsets(0.0)
        self.annotate(is_filtered=params.recordings.filter,
                      **{PARAMS_ANNOTATION: params.model_dump(), LIBRARY_ANNOTATION: library.source})
        self.add_recording_segment(SimulatedRecordingSegment(engine, params.spiketrains.t_start))
        self.name = "si_recsim ground-truth recording"
        self.extra_requirements.append("si_recsim")
        if library_as_arrays(template_library):
            self._serializability["json"] = False
        self._kwargs = dict(sorting=sorting, params=params.model_dump(), template_library=template_library,
                            template_library_path=template_library_path)


class SimulatedRecordingSegment(BaseRecordingSegment):
    def __init__(self, engine: TraceEngine, t_start: float):
        BaseRecordingSegment.__init__(self, sampling_frequency=engine.sampling_frequency, t_start=t_start)
        self.engine = engine

    def get_num_samples(self) -> int:
        return self.engine.num_samples

    def get_traces(self, start_frame, end_frame, channel_indices):
        exit_with_parent()  # in a worker of a pool (SpikeInterface's): do not outlive the parent
        traces = self.engine.get_traces(int(start_frame), int(end_frame))
        return traces if channel_indices is None else traces[:, channel_indices]


simulated_sorting = define_function_from_class(SimulatedSorting, "simulated_sorting")
simulated_recording = define_function_from_class(SimulatedRecording, "simulated_recording")
