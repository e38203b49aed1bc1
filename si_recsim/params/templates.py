"""Template-library parameters: defaults, merging and validation.

The parameters follow MEArec's ``templates_params.yaml`` (a flat mapping) so MEArec users can
reuse their files; positions keep MEArec's frame (``xlim`` is the distance from the probe plane).
Every check runs before any simulation and raises :class:`~si_recsim.params.ParameterError`
naming the key and the fix.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

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

ROTATIONS = ("norot", "xrot", "yrot", "zrot", "3drot", "physrot")


def get_default_template_params() -> dict:
    """A fresh copy of the default template parameters."""
    text = resources.files("si_recsim").joinpath("default_params/templates_params.yaml").read_text()
    return parse_yaml(text)


def build_template_params(params: dict | str | Path | None = None, **overrides) -> dict:
    """Merge defaults, a parameter file or dict and overrides; validate; make the seed concrete.

    Parameters
    ----------
    params : dict | str | Path | None, default: None
        MEArec-style template parameters (partial is fine).
    **overrides
        Keys to replace, e.g. ``n=5, probe="Neuropixels-128"``.

    Returns
    -------
    params : dict
    """
    merged = merge_with_defaults(get_default_template_params(), params, overrides)
    validate_template_params(merged)
    if merged["seed"] is None:
        merged["seed"] = fresh_seed()
    return merged


def _pair(value, key: str, *, minimum: float | None = None, integer: bool = False) -> None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ParameterError(f"'{key}' must be a pair [a, b], got {value!r}.")
    for item in value:
        check_number(item, key, minimum=minimum, integer=integer)


def validate_template_params(params: dict) -> None:
    """Check every template parameter; raise :class:`ParameterError` on the first problem."""
    models = params["cell_models"]
    entries = [models] if isinstance(models, str) else models
    if not isinstance(entries, (list, tuple)) or not entries or not all(isinstance(entry, str) for entry in entries):
        raise ParameterError(f"'cell_models' must be 'builtin', 'mearec', a folder or a list of those and built-in "
                             f"model names, got {models!r}.")
    check_number(params["sim_time"], "sim_time", minimum=0, strict_minimum=True)
    _pair(params["target_spikes"], "target_spikes", minimum=0, integer=True)
    if params["target_spikes"][0] >= params["target_spikes"][1]:
        raise ParameterError(f"'target_spikes' must be [low, high] with low < high, got {params['target_spikes']}.")
    _pair(params["cut_out"], "cut_out", minimum=0)
    check_number(params["dt"], "dt", minimum=0, strict_minimum=True, maximum=1)
    check_number(params["delay"], "delay", minimum=0)
    if params["delay"] >= params["sim_time"] * 1000:
        raise ParameterError(f"'delay' ({params['delay']} ms) must be shorter than 'sim_time' ({params['sim_time']} s).")
    _pair(params["weights"], "weights", minimum=0)
    check_choice(params["rot"], "rot", ROTATIONS)
    if not isinstance(params["probe"], str):
        raise ParameterError(f"'probe' must be a probe name (si-recsim available-probes), got {params['probe']!r}.")
    check_number(params["ncontacts"], "ncontacts", minimum=1, integer=True)
    check_number(params["overhang"], "overhang", minimum=0)
    check_limits(params["xlim"], "xlim")
    if params["xlim"] is None or params["xlim"][0] <= 0:
        raise ParameterError(f"'xlim' must be [min, max] distances from the probe plane above 0 um, got {params['xlim']}.")
    check_limits(params["ylim"], "ylim")
    check_limits(params["zlim"], "zlim")
    check_choice(params["x_distr"], "x_distr", ("uniform", "beta"))
    _pair(params["beta_distr_params"], "beta_distr_params", minimum=0)
    check_number(params["min_amp"], "min_amp", minimum=0)
    check_choice(params["check_eap_shape"], "check_eap_shape", (True, False))
    check_number(params["n"], "n", minimum=1, integer=True)
    check_number(params["seed"], "seed", minimum=0, integer=True, allow_none=True)
    check_number(params["timeout"], "timeout", minimum=0, strict_minimum=True, allow_none=True)
    check_number(params["max_iterations"], "max_iterations", minimum=1, integer=True)
    check_number(params["sigma"], "sigma", minimum=0, strict_minimum=True)
    check_choice(params["method_of_images"], "method_of_images", (None, True, False))
    check_choice(params["source_model"], "source_model", ("linesource", "soma_as_point"))
    check_choice(params["drifting"], "drifting", (True, False))
    check_number(params["drift_steps"], "drift_steps", minimum=2, integer=True)
    check_number(params["min_drift"], "min_drift", minimum=0)
    check_number(params["max_drift"], "max_drift", minimum=0)
    if params["min_drift"] > params["max_drift"]:
        raise ParameterError(f"'min_drift' ({params['min_drift']}) must not exceed 'max_drift' ({params['max_drift']}).")
    for key in ("drift_xlim", "drift_ylim", "drift_zlim"):
        check_limits(params[key], key)
        if params[key] is None:
            raise ParameterError(f"'{key}' must be [min, max] in um.")
    if params["drifting"]:
        reachable = np.linalg.norm([max(abs(value) for value in params[key])
                                    for key in ("drift_xlim", "drift_ylim", "drift_zlim")])
        if reachable < params["min_drift"]:
            raise ParameterError(f"'min_drift' ({params['min_drift']} um) cannot be reached within drift_xlim/ylim/zlim "
                                 f"(at most {reachable:.1f} um): widen the limits or lower min_drift.")
    check_choice(params["check_for_drift_amp"], "check_for_drift_amp", (True, False))
    check_choice(params["drift_within_bounds"], "drift_within_bounds", (True, False))
