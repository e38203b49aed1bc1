"""Recording parameters: the typed schema (MEArec's ``recordings_params.yaml`` layout), defaults and seeds.

Sections ``spiketrains``, ``cell_types``, ``seeds``, ``templates`` and ``recordings`` and the top
level ``seed`` keep MEArec's names, so MEArec users' files load unchanged; fields marked
"(si_recsim)" are additions. Every check runs before any heavy work and raises
:class:`~si_recsim.params.common.ParameterError` naming the key, the problem and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import field_validator, model_validator

from si_recsim.errors import InputError
from si_recsim.params.common import (
    Flag,
    Integer,
    Number,
    ParameterSection,
    commented_yaml,
    field,
    fresh_seed,
    merged_tree,
    ordered_limits,
    validated,
)

SEED_STAGES = ("spiketrains", "templates", "convolution", "noise")
Limits = list[Number] | None


class SpikeTrainParams(ParameterSection):
    rates: list[Number] | None = field(None, "explicit firing rate per unit in Hz (overrides n_exc/n_inh); needs `types`")
    types: list[Literal["E", "I"]] | None = field(None, "'E' or 'I' per unit, used with `rates`")
    n_exc: Integer = field(7, "number of excitatory units", ge=0)
    n_inh: Integer = field(3, "number of inhibitory units", ge=0)
    f_exc: Number = field(5, "mean firing rate of excitatory units in Hz", gt=0)
    f_inh: Number = field(15, "mean firing rate of inhibitory units in Hz", gt=0)
    st_exc: Number = field(1, "standard deviation of excitatory rates in Hz", ge=0)
    st_inh: Number = field(3, "standard deviation of inhibitory rates in Hz", ge=0)
    min_rate: Number = field(0.5, "rates are clipped up to this value in Hz", gt=0)
    ref_per: Number = field(2, "refractory period in ms", ge=0)
    process: Literal["poisson", "gamma"] = field("poisson", "poisson | gamma")
    gamma_shape: Number = field(2, "shape of the gamma process", gt=0)
    t_start: Number = field(0, "start time in s")
    duration: Number = field(10, "duration in s", gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> SpikeTrainParams:
        p = "spiketrains."
        if self.rates is not None:
            if not self.rates or min(self.rates) <= 0:
                raise InputError(f"'{p}rates' must be a non-empty list of rates above 0 Hz, got {self.rates!r}.")
            if self.types is None or len(self.types) != len(self.rates):
                raise InputError(f"'{p}types' must list 'E' or 'I' for each of the {len(self.rates)} rates; "
                                 f"got {self.types!r}.")
            max_rate = max(self.rates)
        elif self.types is not None:
            raise InputError(f"'{p}types' is set but '{p}rates' is not: give both, or neither.")
        else:
            if self.n_exc + self.n_inh == 0:
                raise InputError(f"'{p}n_exc' + '{p}n_inh' is 0: ask for at least one unit.")
            max_rate = max(self.f_exc + 5 * self.st_exc, self.f_inh + 5 * self.st_inh)
        if self.ref_per > 0 and max_rate * self.ref_per / 1000.0 >= 0.5:
            raise InputError(f"A rate of {max_rate:g} Hz with '{p}ref_per' = {self.ref_per:g} ms leaves no room for "
                             "random intervals: lower the rates or the refractory period.")
        return self


class CellTypeParams(ParameterSection):
    excitatory: list[str] = field(["PC", "SS", "SP"], "substrings of cell model names marking excitatory cells")
    inhibitory: list[str] = field(["AC", "BP", "BC", "BTC", "ChC", "DBC", "MC", "NGC"],
                                  "substrings of cell model names marking inhibitory cells")


class SeedParams(ParameterSection):
    spiketrains: Integer | None = field(None, "spike trains (null: derived from `seed`)", ge=0)
    templates: Integer | None = field(None, "template selection (null: derived from `seed`)", ge=0)
    convolution: Integer | None = field(None, "jitter, modulation, bursting and drift (null: derived from `seed`)",
                                        ge=0)
    noise: Integer | None = field(None, "noise (null: derived from `seed`)", ge=0)


class TemplateSelectionParams(ParameterSection):
    template_ids: list[Integer] | None = field(None, "(si_recsim) explicit library indices, bypassing selection")
    min_dist: Number = field(25, "minimum soma distance between units in um", ge=0)
    min_amp: Number = field(50, "minimum template amplitude (absolute negative peak) in uV", ge=0)
    max_amp: Number | None = field(300, "maximum template amplitude in uV", ge=0)
    n_overlap_pairs: Integer | None = field(None, "exact number of spatially overlapping pairs wanted", ge=0)
    xlim: Limits = field(None, "soma distance from the probe plane [min, max] in um (MEArec's x; si_recsim z)")
    ylim: Limits = field(None, "soma position across the probe [min, max] in um (MEArec's y; si_recsim x)")
    zlim: Limits = field(None, "soma position along the probe [min, max] in um (MEArec's z; si_recsim y)")
    overlap_threshold: Number = field(0.9, "pair overlap criterion, fraction of the peak amplitude", ge=0, le=1)
    n_jitters: Integer = field(10, "sub-sample jittered copies per template", ge=1)
    upsample: Integer = field(8, "upsampling factor used to build the jittered copies", ge=1)
    pad_len: list[Number] = field([3, 3], "padding before / after each template in ms")
    smooth_percent: Number = field(0.5, "fraction of the padding tapered with a sigmoid (0 = off)", ge=0, le=1)
    smooth_strength: Number = field(1, "slope of the tapering sigmoid", gt=0)
    sparsity_threshold: Number = field(0.01, "(si_recsim) compute each unit on the channels where its template reaches "
                                              "this fraction of its peak (0 = all)", ge=0, le=1)

    _limits = field_validator("xlim", "ylim", "zlim")(ordered_limits)

    @field_validator("pad_len")
    @classmethod
    def _pad(cls, value: list) -> list:
        if len(value) != 2 or min(value) < 0:
            raise InputError("must be [before, after] in ms, both >= 0")
        return value

    @field_validator("template_ids")
    @classmethod
    def _ids(cls, value: list | None) -> list | None:
        if value is not None and (not value or min(value) < 0):
            raise InputError("must be a non-empty list of library indices >= 0")
        return value

    @model_validator(mode="after")
    def _amplitudes(self) -> TemplateSelectionParams:
        if self.max_amp is not None and self.max_amp <= self.min_amp:
            raise InputError(f"'templates.max_amp' ({self.max_amp:g}) must be larger than 'templates.min_amp' "
                             f"({self.min_amp:g}).")
        return self


class RecordingSectionParams(ParameterSection):
    fs: Number | None = field(None, "sampling frequency in Hz; null = the template library's", gt=0)
    dtype: str = field("float32", "output dtype (float or int)")
    adc_bit_depth: Integer | None = field(None, "int dtypes: ADC bits used to derive the gain", ge=1)
    lsb: Number | None = field(None, "quantisation step in output units (int dtypes default to 1)", gt=0)
    gain: Number | None = field(None, "uV per output unit; overrides adc_bit_depth", gt=0)
    sync_rate: Number | None = field(None, "target fraction of synchronous spikes for spatially overlapping pairs",
                                     ge=0, le=1)
    sync_jitt: Number = field(1, "jitter of added synchronous spikes in ms", ge=0)
    chunk_duration: Number = field(10, "default chunk duration in s when saving with SpikeInterface jobs (at most "
                                   "64 MB of traces per chunk)", ge=0)
    block_duration: Number = field(1.0, "(si_recsim) length in s of the blocks of the fixed grid on which traces are "
                                        "computed (rounded to an even number of samples)", ge=0.01, le=60)
    modulation: Literal["none", "template", "electrode"] = field("electrode", "none | template | electrode")
    sdrand: Number = field(0.05, "standard deviation of the Gaussian amplitude factor", ge=0)
    bursting: Flag = field(False, "inter-spike-interval dependent amplitude (and shape) modulation")
    bursting_units: list[Integer] | None = field(None, "explicit list of bursting unit indices")
    n_bursting: Integer | None = field(None, "number of randomly chosen bursting units (null = all)", ge=0)
    exp_decay: list[Number] | Number = field(0.2, "exponent of the amplitude decay within a burst (scalar or per "
                                                  "bursting unit)")
    n_burst_spikes: Integer = field(10, "maximum consecutive spikes in a burst", ge=1)
    max_burst_duration: Number = field(100, "maximum burst duration in ms", gt=0)
    shape_mod: Flag = field(False, "also stretch bursting spikes in time")
    shape_stretch: Number = field(30, "strength of the stretch", ge=0)
    noise_level: Number = field(10, "noise standard deviation in uV before filtering", ge=0)
    noise_mode: Literal["uncorrelated", "distance-correlated", "far-neurons", "fitted", "none"] = field(
        "uncorrelated", "uncorrelated | distance-correlated | far-neurons | fitted (si_recsim: noise_model) | none "
                        "(si_recsim: no noise added, as in hybrid recordings whose parent holds the noise; "
                        "noise_level still gives the units' snr)")
    noise_model: str | None = field(None, "(si_recsim) noise model file (.npz from fit_noise_model) for noise_mode "
                                          "fitted; it sets the level, spectrum and covariance")
    noise_color: Flag = field(False, "shape the noise spectrum with a resonant peak")
    noise_half_distance: Number = field(30, "distance in um at which distance-correlated noise has correlation 0.5",
                                        gt=0)
    far_neurons_n: Integer = field(300, "number of background units for far-neurons noise", ge=1)
    far_neurons_max_amp: Number = field(10, "maximum amplitude in uV of background templates", gt=0)
    far_neurons_noise_floor: Number = field(0.5, "white noise added to the background, fraction of its s.d.", ge=0)
    far_neurons_exc_inh_ratio: Number = field(0.8, "fraction of excitatory background units", ge=0, le=1)
    color_peak: Number = field(300, "centre of the noise colour peak in Hz", gt=0)
    color_q: Number = field(2, "quality factor of the colour peak", gt=0)
    color_noise_floor: Number = field(1, "white noise added after colouring, fraction of the coloured s.d.", ge=0)
    filter: Flag = field(True, "Butterworth filter")
    filter_cutoff: list[Number] | Number = field([300, 6000], "band in Hz; a scalar means high-pass")
    filter_order: Integer = field(3, "filter order", ge=1, le=10)
    filter_mode: Literal["filtfilt", "lfilter"] = field("filtfilt", "filtfilt (zero phase) | lfilter (causal)")
    drifting: Flag = field(False, "use the drift axis of a drifting template library (gen-templates with drifting: "
                                  "true)")
    n_drifting: Integer | None = field(None, "number of drifting units (null = all); the others stay at the middle of "
                                             "their trajectory", ge=0)
    preferred_dir: list[Number] = field([0, 0, 1], "drift direction in MEArec's frame ([0, 0, 1]: up the probe)")
    angle_tol: Number = field(15, "degrees allowed between a template's trajectory and preferred_dir", ge=0, le=180)
    drift_mode_speed: Literal["slow", "fast", "slow+fast"] = field("slow", "slow | fast | slow+fast")
    drift_mode_probe: Literal["rigid", "non-rigid"] = field("rigid", "rigid | non-rigid")
    drift_fs: Number = field(100, "Hz, sampling of the drift signal", gt=0)
    non_rigid_gradient_mode: Literal["linear", "step"] = field("linear", "linear | step")
    non_rigid_linear_min_factor: Number = field(0.5, "smallest drift factor of the linear gradient", ge=0, le=1)
    non_rigid_linear_direction: Literal[1, -1] = field(1, "1: the lowest units drift most; -1: the highest")
    non_rigid_step_depth_boundary: Number | None = field(None, "um along preferred_dir (null: mean unit depth)")
    non_rigid_step_factors: list[Number] | None = field(None, "[above, below] the boundary (null: [1, 0])")
    slow_drift_velocity: Number = field(5, "um/min", gt=0)
    slow_drift_amplitude: Number | None = field(None, "um peak to peak (null: the shortest trajectory)", ge=0)
    slow_drift_waveform: Literal["triangluar", "triangular", "sine"] = field(
        "triangluar", "triangluar (MEArec's spelling) | sine")
    fast_drift_period: Number = field(10, "s between jumps", gt=0)
    fast_drift_max_jump: Number = field(20, "um", ge=0)
    fast_drift_min_jump: Number = field(5, "um", ge=0)
    t_start_drift: Number = field(0, "s after t_start", ge=0)
    t_end_drift: Number | None = field(None, "s after t_start (null: end of the recording)", ge=0)
    external_drift_times: list[Number] | None = field(None, "(si_recsim) s, an external drift signal instead of slow / "
                                                            "fast")
    external_drift_um: list[Number] | None = field(None, "(si_recsim) um along the drift direction at "
                                                         "external_drift_times")
    motion: str | None = field(None, "(si_recsim) a SpikeInterface Motion folder (Motion.save): with drifting, each "
                                     "unit moves with the displacement the motion gives at its depth, instead of "
                                     "slow / fast / external drift")
    overlap: Flag = field(False, "per-spike overlap labels NO / TO / STO (MEArec's), written with the ground truth")
    extract_waveforms: Flag = field(False, "save a SpikeInterface SortingAnalyzer with waveforms (MEArec's cut: 0.5 ms "
                                    "before, 2 ms after) and templates next to the ground truth")

    @field_validator("noise_model", "motion")
    @classmethod
    def _model_path(cls, value: str | None) -> str | None:
        """Absolute, so that the recording finds it from any folder."""
        return None if value is None else str(Path(value).expanduser().resolve())

    @field_validator("bursting_units")
    @classmethod
    def _units(cls, value: list | None) -> list | None:
        if value is not None and any(unit < 0 for unit in value):
            raise InputError("must be a list of unit indices >= 0")
        return value

    @field_validator("exp_decay")
    @classmethod
    def _decay(cls, value):
        if min(np.atleast_1d(value), default=0) < 0:
            raise InputError("must be >= 0 (one value, or one per bursting unit)")
        return value

    @field_validator("preferred_dir")
    @classmethod
    def _direction(cls, value: list) -> list:
        if len(value) != 3 or not any(value):
            raise InputError("must be a non-zero [x, y, z] vector")
        return value

    @field_validator("non_rigid_step_factors")
    @classmethod
    def _step_factors(cls, value: list | None) -> list | None:
        if value is not None and len(value) != 2:
            raise InputError("must be null or [above, below]")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RecordingSectionParams:
        p = "recordings."
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as error:
            raise InputError(f"'{p}dtype' must be a numpy dtype name such as float32 or int16: {error}") from None
        if dtype.kind not in "iuf":
            raise InputError(f"'{p}dtype' must be a float or integer dtype, got {self.dtype!r}.")
        if self.adc_bit_depth is not None:
            if dtype.kind == "f":
                raise InputError(f"'{p}adc_bit_depth' only applies to integer dtypes; '{p}dtype' is {dtype.name}.")
            lsb = self.lsb or 1
            if lsb * 2 ** self.adc_bit_depth > 2 ** (8 * dtype.itemsize):
                raise InputError(f"'{p}adc_bit_depth' = {self.adc_bit_depth} with lsb {lsb:g} does not fit in "
                                 f"{dtype.name}: use fewer bits or a wider dtype.")
        cutoffs = np.atleast_1d(self.filter_cutoff).tolist()
        if len(cutoffs) not in (1, 2) or min(cutoffs) <= 0:
            raise InputError(f"'{p}filter_cutoff' must be a high-pass cutoff or [low, high] in Hz, got "
                             f"{self.filter_cutoff!r}.")
        if len(cutoffs) == 2 and cutoffs[0] >= cutoffs[1]:
            raise InputError(f"'{p}filter_cutoff' must be [low, high] with low < high, got {self.filter_cutoff!r}.")
        if self.fast_drift_min_jump > self.fast_drift_max_jump:
            raise InputError(f"'{p}fast_drift_min_jump' must not exceed '{p}fast_drift_max_jump'.")
        times, values = self.external_drift_times, self.external_drift_um
        if (times is None) != (values is None):
            raise InputError(f"Give both '{p}external_drift_times' and '{p}external_drift_um', or neither.")
        if times is not None and (len(times) < 1 or len(times) != len(values) or np.any(np.diff(times) <= 0)):
            raise InputError(f"'{p}external_drift_times' must increase and match '{p}external_drift_um' in length.")
        if self.motion is not None and not self.drifting:
            raise InputError(f"'{p}motion' moves the units only in a drifting recording: set '{p}drifting' to true.")
        if self.motion is not None and times is not None:
            raise InputError(f"Give '{p}motion' or '{p}external_drift_times', not both.")
        return self


class RecordingParameters(ParameterSection):
    """Every parameter of a ground-truth recording (MEArec's ``recordings_params.yaml`` layout)."""

    seed: Integer | None = field(None, "(si_recsim) one seed from which every null stage seed is derived", ge=0)
    spiketrains: SpikeTrainParams = field(SpikeTrainParams(), "spike trains")
    cell_types: CellTypeParams = field(CellTypeParams(), "substrings of cell model names marking E / I cells")
    seeds: SeedParams = field(SeedParams(), "stage seeds; null: derived from `seed` (or drawn); the values used "
                                            "are saved")
    templates: TemplateSelectionParams = field(TemplateSelectionParams(), "template selection and preparation")
    recordings: RecordingSectionParams = field(RecordingSectionParams(), "modulation, noise, filter, drift, output")

    def stage_seed(self, stage: str) -> int:
        """The concrete seed of a stage (:data:`SEED_STAGES`)."""
        return getattr(self.seeds, stage)


HEADER = """si_recsim parameters of ground-truth recordings (si-recsim default-params recordings).
Keys, sections and defaults follow MEArec's recordings_params.yaml, so MEArec parameter files load
unchanged; keys marked "(si_recsim)" are additions. Start a file from this one and keep only what
you change: missing keys take these defaults."""


def get_default_recording_params() -> dict:
    """A fresh copy of the default recording parameters as a dictionary in MEArec's layout."""
    return RecordingParameters().model_dump()


def default_recording_params_yaml() -> str:
    """The default recording parameters as commented YAML."""
    return commented_yaml(RecordingParameters(), HEADER)


def build_params(params: dict | RecordingParameters | str | Path | None = None, **overrides: Any) -> RecordingParameters:
    """Merge defaults, a parameter file or dict, and dotted overrides; validate; fix the seeds.

    Parameters
    ----------
    params : dict | RecordingParameters | str | Path | None, default: None
        Parameters or a YAML file in MEArec's layout (sections may be partial).
    **overrides
        Dotted keys, e.g. ``**{"spiketrains.duration": 60}``; ``seed=0`` sets the global seed.

    Returns
    -------
    params : RecordingParameters
        The complete, validated parameters with every seed made concrete (``model_dump()`` gives
        the MEArec-layout dictionary).
    """
    parameters = validated(RecordingParameters, merged_tree(RecordingParameters(), params, overrides))
    return resolve_seeds(parameters)


def resolve_seeds(params: RecordingParameters) -> RecordingParameters:
    """Make every stage seed concrete (in place; returned for chaining).

    A null stage seed is derived from the global ``seed`` with :class:`numpy.random.SeedSequence`
    (one spawned child per stage), or drawn from the operating system when ``seed`` is null too.
    """
    if params.seed is None:
        params.seed = fresh_seed()
    children = np.random.SeedSequence(int(params.seed)).spawn(len(SEED_STAGES))
    for stage, child in zip(SEED_STAGES, children):
        if getattr(params.seeds, stage) is None:
            setattr(params.seeds, stage, int(child.generate_state(1, dtype=np.uint32)[0]))
    return params

