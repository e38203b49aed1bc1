"""Helpers shared by several test modules (imported as ``helpers``; test modules never import each other)."""

from pathlib import Path

import numpy as np
from spikeinterface.core import NumpySorting
from spikeinterface.core.generate import InjectTemplatesRecording


def make_ball_and_sticks(dt, tstop):
    """LFPy's test morphology (from the installed LFPy) with passive membranes and HH at the soma."""
    import LFPy

    morphology = Path(LFPy.__file__).parent / "test" / "ball_and_sticks.hoc"
    cell = LFPy.Cell(morphology=str(morphology), dt=dt, tstart=0.0, tstop=tstop, v_init=-65.0, pt3d=False,
                     nsegs_method="fixed_length", max_nsegs_length=20)
    for section in cell.allseclist:
        section.insert("pas")
        section.e_pas = -65.0
        section.g_pas = 1.0 / 30000.0
        if "soma" in section.name():
            section.insert("hh")
    return cell


def injected_by_spikeinterface(recording) -> np.ndarray:
    """The noise-free, unfiltered traces of a si_recsim recording, summed by SpikeInterface's
    ``InjectTemplatesRecording`` from the engine's dense waveforms, per-spike amplitude factors and
    jitter copies (one SpikeInterface unit per unit and drift step).

    Only for recordings with ``modulation`` "none" or "template" (one factor per spike).
    """
    injector = recording._engine.injector
    n_channels = recording.get_num_channels()
    n_jitters = max(unit_templates.shape[1] for unit_templates in injector.templates)  # distinct copies per unit
    templates, samples, labels, factors, jitters = [], [], [], [], []
    for unit, frames in enumerate(injector.frames):
        unit_factors = injector.modulation.factors(unit, 0, len(frames))
        unit_factors = np.ones(len(frames)) if unit_factors is None else unit_factors[:, 0]
        for step in np.unique(injector.drift_indices[unit]):
            dense = np.zeros((injector.n_samples, n_channels, n_jitters), dtype=np.float32)
            copies = injector.templates[unit][step].transpose(1, 2, 0)
            dense[:, injector.channels[unit], : copies.shape[2]] = copies
            mine = injector.drift_indices[unit] == step
            templates.append(dense)
            samples.append(frames[mine])
            labels.append(np.full(mine.sum(), len(templates) - 1))
            factors.append(unit_factors[mine])
            jitters.append(injector.jitter_indices[unit][mine])
    samples, labels = np.concatenate(samples), np.concatenate(labels)
    order = np.lexsort((labels, samples))
    sorting = NumpySorting.from_samples_and_labels([samples[order]], [labels[order]], recording.sampling_frequency,
                                                   unit_ids=np.arange(len(templates)))
    vector = sorting.to_spike_vector()
    assert np.array_equal(vector["sample_index"], samples[order]) and np.array_equal(vector["unit_index"], labels[order])
    injected = InjectTemplatesRecording(sorting, np.stack(templates), nbefore=injector.nbefore,
                                        amplitude_factor=np.concatenate(factors)[order],
                                        num_samples=[recording.get_num_samples()],
                                        upsample_vector=np.concatenate(jitters)[order].astype(np.int64))
    return injected.get_traces()
