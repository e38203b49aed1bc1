"""Hybrid ground truth: units computed for a user's own probe, injected into the user's recording.

:func:`generate_hybrid_ground_truth` takes a recording (the *parent*, any one-segment SpikeInterface
recording with a probe) and adds ground-truth units to it. Their templates are computed from a cell
bank for the parent's own probe (cells placed in front of its contacts by the usual placement and
selection rules, :mod:`si_recsim.library.bank_library`), their spike trains, amplitude modulation
and bursting are those of synthetic recordings, and, given a SpikeInterface ``Motion`` (for example
one estimated from the parent), each unit moves with the displacement the motion gives at its depth.

The injected part is a :class:`~si_recsim.recording.extractors.SimulatedRecording` without noise
(``noise_mode: none``) computed on its fixed block grid; :class:`HybridRecording` adds it to the
parent's samples. The parent's state is respected:

- **filter**: a parent that is filtered (SpikeInterface's ``is_filtered``) gets its units through the
  same filter: the band, order and direction of the Butterworth filter found in its preprocessing
  chain (``bandpass_filter``, ``highpass_filter`` or ``filter``) or, for an si_recsim ground truth,
  the filter it was made with, else SpikeInterface's default bandpass (300-6000 Hz, order 5,
  forward-backward); an unfiltered parent gets unfiltered units.
  ``recordings.filter*`` overrides replace what is found;
- **units**: the injected µV are divided by the parent's gains (offsets unchanged), added to its
  samples and, for integer parents, rounded and clipped to its dtype; the hybrid has the parent's
  dtype, gains, offsets, channel ids, probe and times. A parent without gains is taken to be in µV;
- **noise**: the parent's; ``recordings.noise_level`` becomes the parent's median noise level
  (SpikeInterface's MAD estimate, on a 300 Hz high-passed copy for unfiltered parents), so the
  units' ``snr`` property is their template peak over the parent's noise.

Every sample is the parent's sample plus a block-exact injected value, so a hybrid recording is as
chunk-invariant as its parent; it serialises as its parent does (to JSON when the parent does).
What is not done: whitened parents are refused (their units would need the whitening too); a
common reference or other spatial preprocessing of the parent is not applied to the units.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment
from spikeinterface.core.core_tools import define_function_from_class

from si_recsim.atomic import atomic_output
from si_recsim.errors import InputError
from si_recsim.jobs import exit_with_parent
from si_recsim.library.default import default_cache_folder
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import RecordingParameters
from si_recsim.recording.drift import load_motion
from si_recsim.recording.extractors import (
    LIBRARY_ANNOTATION,
    PARAMS_ANNOTATION,
    InjectedUnitsAccess,
    SimulatedSorting,
    library_as_arrays,
)

if TYPE_CHECKING:
    from spikeinterface.core.motion import Motion

#: SpikeInterface's ``bandpass_filter`` defaults, assumed for a filtered parent whose filter is not in its chain
DEFAULT_PARENT_BAND_HZ, DEFAULT_PARENT_ORDER = [300.0, 6000.0], 5
#: high-pass cutoff of the copy of an unfiltered parent on which its noise level is measured, Hz
NOISE_HIGHPASS_HZ = 300.0
#: random stretches (count, ms) on which the parent's noise level is measured (2 s in all)
NOISE_CHUNKS, NOISE_CHUNK_MS = 20, 100
#: preprocessing classes whose effect on the units a hybrid cannot reproduce
UNSUPPORTED_PARENTS = ("WhitenRecording",)
_FILTER_KEYS = ("recordings.filter", "recordings.filter_cutoff", "recordings.filter_order", "recordings.filter_mode")
#: parameters a hybrid recording takes from its parent
_PARENT_KEYS = ("recordings.fs", "spiketrains.duration", "spiketrains.t_start", "recordings.dtype", "recordings.gain",
                "recordings.lsb", "recordings.adc_bit_depth", "recordings.noise_mode", "recordings.noise_level")


def generate_hybrid_ground_truth(parent_recording: BaseRecording,
                                 params: dict | RecordingParameters | str | Path | None = None,
                                 motion: Motion | str | Path | None = None, spike_times: list | None = None,
                                 unit_types: list | None = None, seed: int | None = None, bank: str | Path = "default",
                                 allow_large: bool = False, **overrides) -> tuple[HybridRecording, SimulatedSorting]:
    """Ground-truth units injected into a recording (see the module notes).

    Parameters
    ----------
    parent_recording : BaseRecording
        One segment, with a probe attached (``recording.set_probe``).
    params : dict | RecordingParameters | str | Path | None, default: None
        Recording parameters (MEArec's layout) for the units: counts and rates (``spiketrains``),
        selection (``templates``: ``min_amp``, ``min_dist``, ...), modulation and bursting
        (``recordings``). Rate, duration, start time, output scaling and noise come from the parent.
    motion : Motion | str | Path | None, default: None
        A SpikeInterface ``Motion`` of the parent (or a folder written by ``Motion.save``): the units
        move with it (``recordings.drifting`` and ``recordings.motion``). A ``Motion`` object is saved
        in the cache folder under a hash of its contents, so the recording refers to it by path.
    spike_times, unit_types, seed, bank, allow_large
        As for :func:`si_recsim.generate_ground_truth` (spike times in s of the parent's time base).
    **overrides
        Dotted parameter keys, e.g. ``**{"spiketrains.n_exc": 20, "templates.min_amp": 30}``.

    Returns
    -------
    recording : HybridRecording
        The parent plus the units, lazy.
    sorting : SimulatedSorting
        The injected units' spike trains and ground-truth properties.
    """
    from si_recsim.recording.ground_truth import ground_truth_sorting

    check_parent(parent_recording)
    taken = sorted(set(overrides) & set(_PARENT_KEYS))
    if taken:
        raise InputError(f"{', '.join(taken)} come(s) from the parent recording in a hybrid: leave them out.")
    found = {} if set(overrides) & set(_FILTER_KEYS) else parent_filter_params(parent_recording)
    if motion is not None:
        found.update({"recordings.drifting": True, "recordings.motion": str(motion_folder(motion))})
    n_samples = parent_recording.get_num_samples(0)
    fs = float(parent_recording.sampling_frequency)
    found.update({
        "recordings.fs": fs, "spiketrains.duration": n_samples / fs, "spiketrains.t_start": parent_start_time(parent_recording),
        "recordings.dtype": "float32", "recordings.gain": None, "recordings.lsb": None, "recordings.adc_bit_depth": None,
        "recordings.noise_mode": "none", "recordings.noise_level": parent_noise_level(parent_recording),
    })
    sorting, library = ground_truth_sorting(params, spike_times=spike_times, unit_types=unit_types, seed=seed,
                                            probe=parent_recording.get_probe(), bank=bank, allow_large=allow_large,
                                            **{**found, **overrides})
    return HybridRecording(parent_recording, sorting, **library), sorting


def check_parent(parent: BaseRecording) -> None:
    """Refuse, in one line each, a parent a hybrid cannot be made of."""
    if parent.get_num_segments() != 1:
        raise InputError(f"A hybrid needs a one-segment recording; this one has {parent.get_num_segments()}: "
                         "select one with recording.select_segments([index]).")
    if not parent.has_probe():
        raise InputError("The parent recording has no probe, so the units' templates cannot be computed for it: "
                         "attach one with recording.set_probe(probe).")
    for step in preprocessing_chain(parent):
        if type(step).__name__ in UNSUPPORTED_PARENTS:
            raise InputError(f"The parent went through {type(step).__name__}, which the injected units would not: "
                             "inject into the recording before that step, and apply it to the hybrid.")


def preprocessing_chain(recording: BaseRecording) -> list[BaseRecording]:
    """``recording`` and the recordings it was derived from (as far as they are known), outermost first."""
    chain, current = [], recording
    while isinstance(current, BaseRecording):
        chain.append(current)
        current = current._kwargs.get("recording", current._kwargs.get("parent_recording"))
    return chain


def parent_filter_params(parent: BaseRecording) -> dict:
    """``recordings.filter*`` overrides matching the parent's state (see the module notes)."""
    if not parent.is_filtered():
        return {"recordings.filter": False}
    made_with = (parent.get_annotation(PARAMS_ANNOTATION) or {}).get("recordings", {})
    if made_with.get("filter"):  # an si_recsim ground truth: the filter it was made with
        return {f"recordings.{key}": made_with[key] for key in ("filter", "filter_cutoff", "filter_order", "filter_mode")}
    filters = [(type(step).__name__, step._kwargs) for step in preprocessing_chain(parent)
               if type(step).__name__ in ("BandpassFilterRecording", "HighpassFilterRecording", "FilterRecording")]
    if not filters:
        return {"recordings.filter": True, "recordings.filter_cutoff": DEFAULT_PARENT_BAND_HZ,
                "recordings.filter_order": DEFAULT_PARENT_ORDER, "recordings.filter_mode": "filtfilt"}
    if len(filters) > 1:
        raise InputError(f"The parent went through {len(filters)} filters ({', '.join(name for name, _ in filters)}): "
                         "give the units' filter with recordings.filter_cutoff, filter_order and filter_mode.")
    name, kwargs = filters[0]
    if name == "BandpassFilterRecording":
        band = [float(kwargs["freq_min"]), float(kwargs["freq_max"])]
    elif name == "HighpassFilterRecording":
        band = float(kwargs["freq_min"])
    elif kwargs.get("ftype", "butter") == "butter" and kwargs.get("coeff") is None and kwargs.get("btype") in (
            "bandpass", "highpass"):
        band = np.atleast_1d(kwargs["band"]).astype(float).tolist()
        band = band[0] if kwargs["btype"] == "highpass" else band
    else:
        raise InputError(f"The parent's filter ({kwargs.get('ftype')} {kwargs.get('btype')}) is not a Butterworth "
                         "band- or high-pass: give the units' filter with recordings.filter_cutoff, filter_order and "
                         "filter_mode.")
    direction = kwargs.get("direction", "forward-backward")
    if direction not in ("forward-backward", "forward"):
        raise InputError(f"The parent's filter runs {direction}: si_recsim filters forward-backward (filtfilt) or "
                         "forward (lfilter); give recordings.filter_mode.")
    return {"recordings.filter": True, "recordings.filter_cutoff": band,
            "recordings.filter_order": int(kwargs.get("filter_order", DEFAULT_PARENT_ORDER)),
            "recordings.filter_mode": "filtfilt" if direction == "forward-backward" else "lfilter"}


def parent_start_time(parent: BaseRecording) -> float:
    """The time of the parent's first sample, s."""
    info = parent.get_time_info(segment_index=0)
    if info.get("time_vector") is not None:
        return float(info["time_vector"][0])
    return float(info.get("t_start") or 0.0)


def parent_noise_level(parent: BaseRecording) -> float:
    """The parent's median noise level over channels, µV (SpikeInterface's MAD estimate on
    :data:`NOISE_CHUNKS` random stretches of :data:`NOISE_CHUNK_MS`, of a :data:`NOISE_HIGHPASS_HZ`
    high-passed copy when the parent is not filtered)."""
    from spikeinterface.core import get_noise_levels
    from spikeinterface.preprocessing import highpass_filter

    # measured on a view: SpikeInterface caches noise levels as a property of the recording it measures
    measured = highpass_filter(parent, freq_min=NOISE_HIGHPASS_HZ) if not parent.is_filtered() else \
        parent.select_channels(parent.channel_ids)
    slices = dict(seed=0, num_chunks_per_segment=NOISE_CHUNKS, chunk_duration=f"{NOISE_CHUNK_MS}ms")
    levels = get_noise_levels(measured, return_in_uV=parent.has_scaleable_traces(), random_slices_kwargs=slices,
                              progress_bar=False)
    return float(np.median(levels))


def motion_folder(motion: Motion | str | Path) -> Path:
    """The folder of a ``Motion`` given as an object or a folder (checked): objects are saved once in the
    cache (``motions/<hash of the contents>``)."""
    from spikeinterface.core.motion import Motion

    if not isinstance(motion, Motion):
        load_motion(motion)  # a folder that is not a Motion is refused before any work
        return Path(motion).expanduser().resolve()
    digest = hashlib.sha1(motion.direction.encode())
    for array in (motion.spatial_bins_um, *motion.temporal_bins_s, *motion.displacement):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    folder = default_cache_folder() / "motions" / digest.hexdigest()[:16]
    if not folder.exists():
        with atomic_output(folder, folder=True) as temporary:
            temporary.rmdir()  # Motion.save makes the folder itself
            motion.save(temporary)
    return folder


class HybridRecording(InjectedUnitsAccess, BaseRecording):
    """A parent recording plus ground-truth units (see :mod:`si_recsim.recording.hybrid`).

    Parameters
    ----------
    parent_recording : BaseRecording
    sorting : SimulatedSorting
        The units (from :func:`generate_hybrid_ground_truth`), at the parent's rate.
    params, template_library, template_library_path
        As for :class:`~si_recsim.recording.extractors.SimulatedRecording` (``recordings.noise_mode``
        none, float32 µV output); None takes the sorting's parameters.
    """

    def __init__(self, parent_recording: BaseRecording, sorting: SimulatedSorting,
                 params: dict | RecordingParameters | None = None, template_library: str | dict = "default",
                 template_library_path: str | None = None):
        check_parent(parent_recording)
        params, library, engine = self._inject_units(sorting, params, template_library, template_library_path)
        if engine.noise is not None or engine.dtype != np.float32 or engine.gain_to_uV != 1.0 or engine.lsb is not None:
            raise ParameterError("A hybrid's units are computed without noise, in float32 uV: use the parameters "
                                 "generate_hybrid_ground_truth sets (recordings.noise_mode none, dtype float32).")
        shape = (parent_recording.get_num_samples(0), parent_recording.get_num_channels())
        same_rate = engine.sampling_frequency == parent_recording.sampling_frequency
        if (engine.num_samples, engine.num_channels) != shape or not same_rate:
            raise InputError(f"The units are {engine.num_samples} samples x {engine.num_channels} channels at "
                             f"{engine.sampling_frequency} Hz but the parent {shape[0]} x {shape[1]} at "
                             f"{parent_recording.sampling_frequency} Hz: make them with generate_hybrid_ground_truth.")
        BaseRecording.__init__(self, parent_recording.sampling_frequency, parent_recording.channel_ids,
                               parent_recording.get_dtype())
        parent_recording.copy_metadata(self)
        gains = parent_recording.get_channel_gains() if parent_recording.has_scaleable_traces() else None
        self.add_recording_segment(HybridRecordingSegment(parent_recording._recording_segments[0], engine, gains))
        self.annotate(**{PARAMS_ANNOTATION: params.model_dump(), LIBRARY_ANNOTATION: library.source})
        self.name = "si_recsim hybrid recording"
        self.extra_requirements.append("si_recsim")
        for kind in ("json", "pickle"):  # the hybrid serialises as its parent does
            self._serializability[kind] = parent_recording._serializability[kind]
        if library_as_arrays(template_library):
            self._serializability["json"] = False
        self._kwargs = dict(parent_recording=parent_recording, sorting=sorting, params=params.model_dump(),
                            template_library=template_library, template_library_path=template_library_path)


class HybridRecordingSegment(BaseRecordingSegment):
    """The parent's samples plus the units': added straight into the parent's samples (as µV) when the
    units are not filtered, else the engine's filtered blocks added to them."""

    def __init__(self, parent_segment: BaseRecordingSegment, engine, gains: np.ndarray | None):
        BaseRecordingSegment.__init__(self, **parent_segment.get_times_kwargs())
        self.parent_segment = parent_segment
        self.engine = engine
        self.gains = None if gains is None else np.asarray(gains, dtype=np.float32)

    def get_num_samples(self) -> int:
        return self.parent_segment.get_num_samples()

    def get_traces(self, start_frame, end_frame, channel_indices):
        exit_with_parent()
        start = 0 if start_frame is None else int(start_frame)
        end = self.get_num_samples() if end_frame is None else int(end_frame)
        parent = self.parent_segment.get_traces(start, end, slice(None))  # every channel: the units meet them all
        single = parent.dtype.itemsize <= 2 or parent.dtype == np.float32  # float32 holds all their values
        values_uV = parent.astype(np.float32 if single else np.float64)  # a copy
        if self.gains is not None:
            values_uV *= self.gains
        if single and self.engine.recording_filter is None:
            self.engine.add_spikes_to(values_uV, start)
        else:
            values_uV += self.engine.get_traces(start, end)
        if self.gains is not None:
            values_uV /= self.gains
        if parent.dtype.kind in "iu":
            info = np.iinfo(parent.dtype)
            np.rint(values_uV, out=values_uV)
            np.clip(values_uV, info.min, info.max, out=values_uV)
        values = values_uV.astype(parent.dtype, copy=False)
        return values if channel_indices is None else values[:, channel_indices]


hybrid_recording = define_function_from_class(HybridRecording, "hybrid_recording")
