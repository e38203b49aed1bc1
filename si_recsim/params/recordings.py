"""Recording parameters: defaults, merging, validation and seeds.

The parameter tree follows MEArec's ``recordings_params.yaml`` (sections ``spiketrains``,
``cell_types``, ``seeds``, ``templates``, ``recordings``) so that MEArec users can reuse their
files. Every check runs before any heavy work and raises :class:`ParameterError` with a message
that names the key, the problem and the fix.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from si_recsim.params.common import (
    ParameterError,
    check_choice,
    check_limits,
    check_number,
    fresh_seed,
    merge_with_defaults,
    parse_yaml,
)

SEED_STAGES = ("spiketrains", "templates", "convolution", "noise")
SECTIONS = ("spiketrains", "cell_types", "seeds", "templates", "recordings")


def get_default_recording_params() -> dict:
    """Return a fresh copy of the default recording parameters.

    Returns
    -------
    params : dict
        Nested dictionary with the sections ``spiketrains``, ``cell_types``, ``seeds``,
        ``templates`` and ``recordings`` and the top-level ``seed``.
    """
    text = resources.files("si_recsim").joinpath("default_params/recordings_params.yaml").read_text()
    return parse_yaml(text)


def build_params(params: dict | str | Path | None = None, **overrides: Any) -> dict:
    """Merge defaults, a parameter file or dict, and dotted overrides; validate; fix the seeds.

    Parameters
    ----------
    params : dict | str | Path | None, default: None
        Parameter dictionary or YAML file in MEArec's layout (sections may be partial).
    **overrides
        Dotted keys, e.g. ``**{"spiketrains.duration": 60}``; ``seed=0`` sets the global seed.

    Returns
    -------
    params : dict
        The complete, validated parameter tree with every seed made concrete.
    """
    merged = merge_with_defaults(get_default_recording_params(), params, overrides)
    validate_params(merged)
    resolve_seeds(merged)
    return merged


def resolve_seeds(params: dict) -> None:
    """Make every stage seed concrete (in place).

    A null stage seed is derived from the global ``seed`` with :class:`numpy.random.SeedSequence`
    (one spawned child per stage), or drawn from the operating system when ``seed`` is null too.
    """
    global_seed = params.get("seed")
    if global_seed is None:
        global_seed = params["seed"] = fresh_seed()
    children = np.random.SeedSequence(int(global_seed)).spawn(len(SEED_STAGES))
    for stage, child in zip(SEED_STAGES, children):
        if params["seeds"].get(stage) is None:
            params["seeds"][stage] = int(child.generate_state(1, dtype=np.uint32)[0])


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------


def validate_params(params: dict) -> None:
    """Check every value of a merged parameter tree; raise :class:`ParameterError` on the first problem."""
    for section in SECTIONS:
        if not isinstance(params.get(section), dict):
            raise ParameterError(f"Section '{section}' is missing or not a mapping.")
    check_number(params.get("seed"), "seed", minimum=0, integer=True, allow_none=True)
    for stage in SEED_STAGES:
        check_number(params["seeds"].get(stage), f"seeds.{stage}", minimum=0, integer=True, allow_none=True)
    _validate_spiketrains(params["spiketrains"])
    _validate_cell_types(params["cell_types"])
    _validate_templates(params["templates"])
    _validate_recordings(params["recordings"])


def _validate_spiketrains(section: dict) -> None:
    p = "spiketrains."
    check_number(section["duration"], p + "duration", minimum=0, strict_minimum=True)
    check_number(section["t_start"], p + "t_start")
    check_number(section["ref_per"], p + "ref_per", minimum=0)
    check_number(section["min_rate"], p + "min_rate", minimum=0, strict_minimum=True)
    check_choice(section["process"], p + "process", ("poisson", "gamma"))
    check_number(section["gamma_shape"], p + "gamma_shape", minimum=0, strict_minimum=True)
    rates, types = section.get("rates"), section.get("types")
    if rates is not None:
        if not isinstance(rates, (list, tuple, np.ndarray)) or len(rates) == 0:
            raise ParameterError(f"'{p}rates' must be a non-empty list of rates in Hz, got {rates!r}.")
        for rate in rates:
            check_number(rate, p + "rates", minimum=0, strict_minimum=True)
        if types is None or len(types) != len(rates):
            raise ParameterError(
                f"'{p}types' must list 'E' or 'I' for each of the {len(rates)} rates; got {types!r}."
            )
        for cell_type in types:
            check_choice(cell_type, p + "types", ("E", "I"))
    elif types is not None:
        raise ParameterError(f"'{p}types' is set but '{p}rates' is not: give both, or neither.")
    else:
        for key in ("n_exc", "n_inh"):
            check_number(section[key], p + key, minimum=0, integer=True)
        if section["n_exc"] + section["n_inh"] == 0:
            raise ParameterError(f"'{p}n_exc' + '{p}n_inh' is 0: ask for at least one unit.")
        for key in ("f_exc", "f_inh"):
            check_number(section[key], p + key, minimum=0, strict_minimum=True)
        for key in ("st_exc", "st_inh"):
            check_number(section[key], p + key, minimum=0)
    max_rate = max(rates) if rates is not None else max(section["f_exc"] + 5 * section["st_exc"],
                                                          section["f_inh"] + 5 * section["st_inh"])
    if section["ref_per"] > 0 and max_rate * section["ref_per"] / 1000.0 >= 0.5:
        raise ParameterError(
            f"A rate of {max_rate:g} Hz with '{p}ref_per' = {section['ref_per']} ms leaves no room for random "
            "intervals: lower the rates or the refractory period."
        )


def _validate_cell_types(section: dict) -> None:
    for key in ("excitatory", "inhibitory"):
        value = section.get(key)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ParameterError(f"'cell_types.{key}' must be a list of name substrings, got {value!r}.")


def _validate_templates(section: dict) -> None:
    p = "templates."
    check_number(section["min_dist"], p + "min_dist", minimum=0)
    check_number(section["min_amp"], p + "min_amp", minimum=0)
    check_number(section["max_amp"], p + "max_amp", minimum=0, allow_none=True)
    if section["max_amp"] is not None and section["max_amp"] <= section["min_amp"]:
        raise ParameterError(
            f"'{p}max_amp' ({section['max_amp']}) must be larger than '{p}min_amp' ({section['min_amp']})."
        )
    check_number(section["n_overlap_pairs"], p + "n_overlap_pairs", minimum=0, integer=True, allow_none=True)
    for key in ("xlim", "ylim", "zlim"):
        check_limits(section[key], p + key)
    check_number(section["overlap_threshold"], p + "overlap_threshold", minimum=0, maximum=1)
    check_number(section["n_jitters"], p + "n_jitters", minimum=1, integer=True)
    check_number(section["upsample"], p + "upsample", minimum=1, integer=True)
    pad = section["pad_len"]
    if not isinstance(pad, (list, tuple)) or len(pad) != 2:
        raise ParameterError(f"'{p}pad_len' must be [before, after] in ms, got {pad!r}.")
    for value in pad:
        check_number(value, p + "pad_len", minimum=0)
    check_number(section["smooth_percent"], p + "smooth_percent", minimum=0, maximum=1)
    check_number(section["smooth_strength"], p + "smooth_strength", minimum=0, strict_minimum=True)
    check_number(section["sparsity_threshold"], p + "sparsity_threshold", minimum=0, maximum=1)
    ids = section.get("template_ids")
    if ids is not None:
        if not isinstance(ids, (list, tuple, np.ndarray)) or len(ids) == 0:
            raise ParameterError(f"'{p}template_ids' must be a non-empty list of library indices, got {ids!r}.")
        for value in ids:
            check_number(value, p + "template_ids", minimum=0, integer=True)


def _validate_recordings(section: dict) -> None:
    p = "recordings."
    check_number(section["fs"], p + "fs", minimum=0, strict_minimum=True, allow_none=True)
    try:
        dtype = np.dtype(section["dtype"])
    except TypeError as error:
        raise ParameterError(f"'{p}dtype' must be a numpy dtype name such as float32 or int16: {error}") from None
    if dtype.kind not in "iuf":
        raise ParameterError(f"'{p}dtype' must be a float or integer dtype, got {section['dtype']!r}.")
    check_number(section["adc_bit_depth"], p + "adc_bit_depth", minimum=1, integer=True, allow_none=True)
    check_number(section["lsb"], p + "lsb", minimum=0, strict_minimum=True, allow_none=True)
    check_number(section["gain"], p + "gain", minimum=0, strict_minimum=True, allow_none=True)
    if section["adc_bit_depth"] is not None:
        if dtype.kind == "f":
            raise ParameterError(f"'{p}adc_bit_depth' only applies to integer dtypes; '{p}dtype' is {dtype.name}.")
        lsb = section["lsb"] or 1
        if lsb * 2 ** section["adc_bit_depth"] > 2 ** (8 * dtype.itemsize):
            raise ParameterError(
                f"'{p}adc_bit_depth' = {section['adc_bit_depth']} with lsb {lsb} does not fit in {dtype.name}: "
                "use fewer bits or a wider dtype."
            )
    check_number(section["sync_rate"], p + "sync_rate", minimum=0, maximum=1, allow_none=True)
    check_number(section["sync_jitt"], p + "sync_jitt", minimum=0)
    check_number(section["chunk_duration"], p + "chunk_duration", minimum=0)
    check_number(section["block_duration"], p + "block_duration", minimum=0.01, maximum=60)
    check_choice(section["modulation"], p + "modulation", ("none", "template", "electrode"))
    check_number(section["sdrand"], p + "sdrand", minimum=0)
    check_choice(section["bursting"], p + "bursting", (True, False))
    check_choice(section["shape_mod"], p + "shape_mod", (True, False))
    if section["bursting_units"] is not None:
        units = section["bursting_units"]
        if not isinstance(units, (list, tuple)):
            raise ParameterError(f"'{p}bursting_units' must be a list of unit indices, got {units!r}.")
        for unit in units:
            check_number(unit, p + "bursting_units", minimum=0, integer=True)
    check_number(section["n_bursting"], p + "n_bursting", minimum=0, integer=True, allow_none=True)
    exp_decay = section["exp_decay"]
    for value in exp_decay if isinstance(exp_decay, (list, tuple)) else [exp_decay]:
        check_number(value, p + "exp_decay", minimum=0)
    check_number(section["n_burst_spikes"], p + "n_burst_spikes", minimum=1, integer=True)
    check_number(section["max_burst_duration"], p + "max_burst_duration", minimum=0, strict_minimum=True)
    check_number(section["shape_stretch"], p + "shape_stretch", minimum=0)
    check_number(section["noise_level"], p + "noise_level", minimum=0)
    check_choice(section["noise_mode"], p + "noise_mode", ("uncorrelated", "distance-correlated", "far-neurons"))
    check_choice(section["noise_color"], p + "noise_color", (True, False))
    check_number(section["noise_half_distance"], p + "noise_half_distance", minimum=0, strict_minimum=True)
    check_number(section["far_neurons_n"], p + "far_neurons_n", minimum=1, integer=True)
    check_number(section["far_neurons_max_amp"], p + "far_neurons_max_amp", minimum=0, strict_minimum=True)
    check_number(section["far_neurons_noise_floor"], p + "far_neurons_noise_floor", minimum=0)
    check_number(section["far_neurons_exc_inh_ratio"], p + "far_neurons_exc_inh_ratio", minimum=0, maximum=1)
    check_number(section["color_peak"], p + "color_peak", minimum=0, strict_minimum=True)
    check_number(section["color_q"], p + "color_q", minimum=0, strict_minimum=True)
    check_number(section["color_noise_floor"], p + "color_noise_floor", minimum=0)
    check_choice(section["filter"], p + "filter", (True, False))
    cutoff = section["filter_cutoff"]
    cutoffs = cutoff if isinstance(cutoff, (list, tuple)) else [cutoff]
    if len(cutoffs) not in (1, 2):
        raise ParameterError(f"'{p}filter_cutoff' must be a high-pass cutoff or [low, high] in Hz, got {cutoff!r}.")
    for value in cutoffs:
        check_number(value, p + "filter_cutoff", minimum=0, strict_minimum=True)
    if len(cutoffs) == 2 and cutoffs[0] >= cutoffs[1]:
        raise ParameterError(f"'{p}filter_cutoff' must be [low, high] with low < high, got {cutoff!r}.")
    check_number(section["filter_order"], p + "filter_order", minimum=1, maximum=10, integer=True)
    check_choice(section["filter_mode"], p + "filter_mode", ("filtfilt", "lfilter"))
    check_choice(section["drifting"], p + "drifting", (True, False))
    _validate_drift(section, p)
    if section["overlap"]:
        raise ParameterError(f"'{p}overlap' (MEArec's per-spike overlap labels) is not supported: set it to false.")
    if section["extract_waveforms"]:
        raise ParameterError(
            f"'{p}extract_waveforms' is not supported: set it to false and use SpikeInterface's "
            "create_sorting_analyzer(...).compute('waveforms') on the generated recording."
        )


def _validate_drift(section: dict, p: str) -> None:
    check_number(section["n_drifting"], p + "n_drifting", minimum=0, integer=True, allow_none=True)
    direction = section["preferred_dir"]
    if not isinstance(direction, (list, tuple)) or len(direction) != 3 or not any(direction):
        raise ParameterError(f"'{p}preferred_dir' must be a non-zero [x, y, z] vector, got {direction!r}.")
    check_number(section["angle_tol"], p + "angle_tol", minimum=0, maximum=180)
    check_choice(section["drift_mode_speed"], p + "drift_mode_speed", ("slow", "fast", "slow+fast"))
    check_choice(section["drift_mode_probe"], p + "drift_mode_probe", ("rigid", "non-rigid"))
    check_number(section["drift_fs"], p + "drift_fs", minimum=0, strict_minimum=True)
    check_choice(section["non_rigid_gradient_mode"], p + "non_rigid_gradient_mode", ("linear", "step"))
    check_number(section["non_rigid_linear_min_factor"], p + "non_rigid_linear_min_factor", minimum=0, maximum=1)
    check_choice(section["non_rigid_linear_direction"], p + "non_rigid_linear_direction", (1, -1))
    check_number(section["non_rigid_step_depth_boundary"], p + "non_rigid_step_depth_boundary", allow_none=True)
    factors = section["non_rigid_step_factors"]
    if factors is not None and (not isinstance(factors, (list, tuple)) or len(factors) != 2):
        raise ParameterError(f"'{p}non_rigid_step_factors' must be null or [above, below], got {factors!r}.")
    check_number(section["slow_drift_velocity"], p + "slow_drift_velocity", minimum=0, strict_minimum=True)
    check_number(section["slow_drift_amplitude"], p + "slow_drift_amplitude", minimum=0, allow_none=True)
    check_choice(section["slow_drift_waveform"], p + "slow_drift_waveform", ("triangluar", "triangular", "sine"))
    check_number(section["fast_drift_period"], p + "fast_drift_period", minimum=0, strict_minimum=True)
    check_number(section["fast_drift_min_jump"], p + "fast_drift_min_jump", minimum=0)
    check_number(section["fast_drift_max_jump"], p + "fast_drift_max_jump", minimum=0)
    if section["fast_drift_min_jump"] > section["fast_drift_max_jump"]:
        raise ParameterError(f"'{p}fast_drift_min_jump' must not exceed '{p}fast_drift_max_jump'.")
    check_number(section["t_start_drift"], p + "t_start_drift", minimum=0)
    check_number(section["t_end_drift"], p + "t_end_drift", minimum=0, allow_none=True)
    times, values = section["external_drift_times"], section["external_drift_um"]
    if (times is None) != (values is None):
        raise ParameterError(f"Give both '{p}external_drift_times' and '{p}external_drift_um', or neither.")
    if times is not None:
        times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
        if times.ndim != 1 or times.shape != values.shape or times.size < 1 or np.any(np.diff(times) <= 0):
            raise ParameterError(f"'{p}external_drift_times' must increase and match '{p}external_drift_um' in length.")
