"""Template-library parameters: the typed schema (MEArec's ``templates_params.yaml``, a flat mapping).

MEArec users' files load unchanged; positions keep MEArec's frame (``xlim`` is the distance from
the probe plane, ``ylim`` runs across and ``zlim`` along the probe). Every check runs before any
simulation and raises :class:`~si_recsim.params.common.ParameterError` naming the key and the fix.
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

ROTATIONS = ("norot", "xrot", "yrot", "zrot", "3drot", "physrot")
Pair = list[Number]


def _pair(value: list) -> list:
    if len(value) != 2:
        raise InputError("must be a pair [a, b]")
    return value


class TemplateParameters(ParameterSection):
    """Every parameter of template-library generation (MEArec's ``templates_params.yaml``)."""

    cell_models: str | list[str] = field("builtin", "(si_recsim) 'builtin', 'mearec' (an installed MEArec's models), "
                                                    "NMC-portal folders, or a list of those and built-in names")
    sim_time: Number = field(1, "intracellular simulation length in s", gt=0)
    target_spikes: list[Integer] = field([3, 50], "accepted spike counts (low excluded, high included); built-in "
                                                  "models may declare their own")
    cut_out: Pair = field([2, 5], "ms kept before / after the somatic spike peak")
    dt: Number = field(0.03125, "simulation time step in ms (= template sampling period)", gt=0, le=1)
    delay: Number = field(10, "ms before the current step starts", ge=0)
    weights: Pair = field([0.25, 1.75], "first current (nA) and factor after too many spikes; factor after too few")
    rot: Literal[ROTATIONS] = field("physrot", "norot | xrot | yrot | zrot | 3drot | physrot")
    probe: str = field("Neuronexus-32", "probe name (si-recsim available-probes)")
    ncontacts: Integer = field(10, "random points averaged over each contact's surface", ge=1)
    overhang: Number = field(30, "um beyond the probe extent when ylim / zlim are null", ge=0)
    offset: Number = field(0, "unused (kept for MEArec files)")
    xlim: Pair = field([10, 80], "distance of the soma from the probe plane, um")
    ylim: Pair | None = field(None, "across the probe, um")
    zlim: Pair | None = field(None, "along the probe, um")
    x_distr: Literal["uniform", "beta"] = field("uniform", "uniform | beta, for the distance from the probe")
    beta_distr_params: Pair = field([1.5, 5], "a, b of the beta distribution scaled to xlim")
    min_amp: Number = field(30, "minimum absolute negative peak in uV", ge=0)
    check_eap_shape: Flag = field(True, "reject templates whose positive peak exceeds the negative one")
    n: Integer = field(50, "templates per cell model", ge=1)
    seed: Integer | None = field(None, "null: drawn at random and saved", ge=0)
    timeout: Number | None = field(None, "seconds allowed per cell model (null: no limit)", gt=0)
    max_iterations: Integer = field(1000, "give up a cell model after max_iterations * n rejected positions", ge=1)
    sigma: Number = field(0.3, "(si_recsim) extracellular conductivity in S/m", gt=0)
    method_of_images: Flag | None = field(None, "(si_recsim) double potentials for an insulating probe plane; null: "
                                                "planar MEA probes yes, wires no")
    source_model: Literal["linesource", "soma_as_point"] = field(
        "linesource", "(si_recsim) linesource (MEArec, LFPy) | soma_as_point (neurodamus electrodes files: somatic "
                      "segments as points)")
    drifting: Flag = field(False, "compute each template along a straight drift trajectory")
    max_drift: Number = field(100, "um, longest trajectory", ge=0)
    min_drift: Number = field(30, "um, shortest trajectory", ge=0)
    drift_steps: Integer = field(31, "positions per trajectory (ends included)", ge=2)
    drift_xlim: Pair = field([-10, 10], "um, final minus initial position: distance from the probe plane")
    drift_ylim: Pair = field([-10, 10], "um, across the probe")
    drift_zlim: Pair = field([30, 80], "um, along the probe (upwards by default)")
    check_for_drift_amp: Flag = field(False, "also require min_amp at the final position")
    drift_within_bounds: Flag = field(False, "also require the final position inside xlim / ylim / zlim")

    _pairs = field_validator("target_spikes", "cut_out", "weights", "beta_distr_params")(_pair)

    _limits = field_validator("xlim", "ylim", "zlim", "drift_xlim", "drift_ylim", "drift_zlim")(ordered_limits)

    @field_validator("cell_models")
    @classmethod
    def _models(cls, value):
        if isinstance(value, list) and not value:
            raise InputError("must be 'builtin', 'mearec', a folder or a non-empty list of those and built-in names")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TemplateParameters:
        if min(self.target_spikes) < 0 or self.target_spikes[0] >= self.target_spikes[1]:
            raise InputError(f"'target_spikes' must be [low, high] with 0 <= low < high, got {self.target_spikes}.")
        if min(self.cut_out) < 0 or min(self.weights) < 0 or min(self.beta_distr_params) < 0:
            raise InputError("'cut_out', 'weights' and 'beta_distr_params' must not be negative.")
        if self.delay >= self.sim_time * 1000:
            raise InputError(f"'delay' ({self.delay:g} ms) must be shorter than 'sim_time' ({self.sim_time:g} s).")
        if self.xlim[0] <= 0:
            raise InputError(f"'xlim' must be [min, max] distances from the probe plane above 0 um, got {self.xlim}.")
        if self.min_drift > self.max_drift:
            raise InputError(f"'min_drift' ({self.min_drift:g}) must not exceed 'max_drift' ({self.max_drift:g}).")
        if self.drifting:
            reachable = np.linalg.norm([max(abs(value) for value in limits)
                                        for limits in (self.drift_xlim, self.drift_ylim, self.drift_zlim)])
            if reachable < self.min_drift:
                raise InputError(f"'min_drift' ({self.min_drift:g} um) cannot be reached within drift_xlim/ylim/zlim "
                                 f"(at most {reachable:.1f} um): widen the limits or lower min_drift.")
        return self


HEADER = """si_recsim parameters of template libraries (si-recsim default-params templates).
Keys and defaults follow MEArec's templates_params.yaml, so MEArec files load unchanged; keys marked
"(si_recsim)" are additions. Positions use MEArec's frame: x is the distance from the probe plane,
y runs across and z along the probe."""


def get_default_template_params() -> dict:
    """A fresh copy of the default template parameters as a dictionary in MEArec's layout."""
    return TemplateParameters().model_dump()


def default_template_params_yaml() -> str:
    """The default template parameters as commented YAML."""
    return commented_yaml(TemplateParameters(), HEADER)


def build_template_params(params: dict | TemplateParameters | str | Path | None = None,
                          **overrides: Any) -> TemplateParameters:
    """Merge defaults, a parameter file or dict and overrides; validate; make the seed concrete.

    Parameters
    ----------
    params : dict | TemplateParameters | str | Path | None, default: None
        MEArec-style template parameters (partial is fine).
    **overrides
        Keys to replace, e.g. ``n=5, probe="Neuropixels-128"``.

    Returns
    -------
    params : TemplateParameters
    """
    parameters = validated(TemplateParameters, merged_tree(TemplateParameters(), params, overrides))
    if parameters.seed is None:
        parameters.seed = fresh_seed()
    return parameters
