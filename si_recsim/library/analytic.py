"""Analytic template libraries (SpikeInterface's ``generate_templates``; not biophysical)."""

from __future__ import annotations

import numpy as np

from si_recsim.library.template_library import TemplateLibrary
from si_recsim.probes import contact_positions_3d, probe_from_name

_EXCITATORY_SHAPE = dict(depolarization_ms=(0.12, 0.16), repolarization_ms=(0.6, 0.9), recovery_ms=(1.2, 1.6),
                         positive_amplitude=(0.1, 0.2))
_INHIBITORY_SHAPE = dict(depolarization_ms=(0.07, 0.1), repolarization_ms=(0.22, 0.35), recovery_ms=(0.6, 0.9),
                         positive_amplitude=(0.2, 0.35))


def make_analytic_library(probe_name: str = "Neuronexus-32", n_near: int = 240, n_far: int = 460,
                          sampling_frequency: float = 32000.0, ms_before: float = 2.0, ms_after: float = 5.0,
                          excitatory_fraction: float = 0.6, seed: int = 0) -> TemplateLibrary:
    """A library of SpikeInterface's analytic templates (not biophysical), on any named probe.

    ``n_near`` cells are placed 10-80 µm in front of the probe, within the probe's extent plus
    30 µm; ``n_far`` cells 120-400 µm away supply low-amplitude background units for
    ``far-neurons`` noise. Excitatory cells (named ``analytic_PC``) have wide spikes, inhibitory
    cells (``analytic_BC``) narrow ones.

    Parameters
    ----------
    probe_name : str, default: "Neuronexus-32"
    n_near, n_far : int, default: 240, 460
    sampling_frequency : float, default: 32000.0
        Hz.
    ms_before, ms_after : float, default: 2.0, 5.0
        Template window around the trough, ms.
    excitatory_fraction : float, default: 0.6
    seed : int, default: 0

    Returns
    -------
    library : TemplateLibrary
    """
    from spikeinterface.core.generate import generate_templates

    probe = probe_from_name(probe_name)
    rng = np.random.default_rng(seed)
    n_total = n_near + n_far
    positions = np.asarray(probe.contact_positions)
    low, high = positions.min(axis=0) - 30.0, positions.max(axis=0) + 30.0
    xy = rng.uniform(low, high, size=(n_total, 2))
    distance = np.concatenate([rng.uniform(10.0, 80.0, n_near), rng.uniform(120.0, 400.0, n_far)])
    locations = np.column_stack([xy, distance])
    is_excitatory = rng.random(n_total) < excitatory_fraction
    unit_params = {}
    for key in _EXCITATORY_SHAPE:
        excitatory = rng.uniform(*_EXCITATORY_SHAPE[key], n_total)
        inhibitory = rng.uniform(*_INHIBITORY_SHAPE[key], n_total)
        unit_params[key] = np.where(is_excitatory, excitatory, inhibitory)
    templates = generate_templates(contact_positions_3d(probe), locations, sampling_frequency, ms_before, ms_after,
                                   seed=int(rng.integers(2**31)), unit_params=unit_params)
    nbefore = int(round(ms_before * sampling_frequency / 1000.0))
    cell_models = np.where(is_excitatory, "analytic_PC", "analytic_BC")
    arguments = dict(probe_name=probe_name, n_near=n_near, n_far=n_far, sampling_frequency=sampling_frequency,
                     ms_before=ms_before, ms_after=ms_after, excitatory_fraction=excitatory_fraction, seed=seed)
    return TemplateLibrary(
        templates=templates, locations=locations, cell_models=cell_models, sampling_frequency=sampling_frequency,
        nbefore=nbefore, probe=probe,
        source="analytic (spikeinterface.core.generate_templates; not biophysical)",
        spec={"analytic": arguments},
        info=arguments,
    )
