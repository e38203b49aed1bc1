"""The ground-truth recording and sorting as SpikeInterface extractors: the recording takes its
sorting, both rebuild from their kwargs, libraries travel as names, paths or arrays (never JSON text)."""

import pickle

import numpy as np
import pytest
from spikeinterface.core import generate_templates, load

import si_recsim
from si_recsim import ParameterError, SimulatedRecording, SimulatedSorting, TemplateLibrary, generate_ground_truth
from si_recsim.probes import probe_from_name

SHORT = {"spiketrains.duration": 2}


def test_the_recording_takes_its_sorting_and_both_rebuild_from_their_dicts(tmp_path):
    recording, sorting = generate_ground_truth(seed=4, **SHORT)
    assert recording.to_dict()["kwargs"]["sorting"] is sorting
    again = load(recording.to_dict(recursive=True))
    assert np.array_equal(again.get_traces(start_frame=100, end_frame=5000),
                          recording.get_traces(start_frame=100, end_frame=5000))
    recording.dump_to_json(tmp_path / "recording.json")
    from_json = load(tmp_path / "recording.json")
    assert np.array_equal(from_json.get_traces(end_frame=3000), recording.get_traces(end_frame=3000))
    for extractor in (recording, sorting):
        assert "si_recsim" in extractor.extra_requirements
        assert extractor.name.startswith("si_recsim ground-truth")
        assert extractor.get_annotation("si_recsim_params")["seed"] == 4


def test_the_sorting_is_built_without_the_trace_engine(monkeypatch):
    import si_recsim.recording.extractors as extractors

    def refuse(*_, **__):
        raise AssertionError("the sorting built the trace engine")

    monkeypatch.setattr(extractors, "build_engine", refuse)
    sorting = SimulatedSorting({"spiketrains": {"duration": 1.0}, "seed": 2})
    assert sorting.get_num_units() == 10
    assert sorting.get_unit_spike_train(sorting.unit_ids[0]).size > 0


def test_partial_parameters_are_completed_and_checked_by_every_constructor():
    sorting = SimulatedSorting({"spiketrains": {"duration": 1.0, "n_exc": 2, "n_inh": 1}, "seed": 5})
    recording = SimulatedRecording(sorting)  # the sorting's parameters, seeds included
    assert recording.get_annotation("si_recsim_params")["seeds"] == sorting.get_annotation("si_recsim_params")["seeds"]
    assert recording.get_num_samples() == 32000
    with pytest.raises(ParameterError, match="Did you mean 'spiketrains.duration'"):
        SimulatedSorting({"spiketrains": {"durations": 1.0}})
    with pytest.raises(ParameterError, match="duration"):
        si_recsim.simulated_sorting({"spiketrains": {"duration": -1}})


def test_a_library_in_memory_travels_as_arrays_not_json():
    probe = probe_from_name("Neuronexus-32")
    rng = np.random.default_rng(0)
    locations = np.column_stack([rng.uniform(-20, 20, 30), rng.uniform(-300, 300, 30), rng.uniform(15, 60, 30)])
    templates = generate_templates(np.column_stack([probe.contact_positions, np.zeros(32)]), locations, 32000.0,
                                   2.0, 5.0, seed=0)
    library = TemplateLibrary(templates=templates, locations=locations, cell_models=["X_PC"] * 30,
                              sampling_frequency=32000.0, nbefore=64, probe=probe)
    recording, sorting = generate_ground_truth(template_library=library, seed=0,
                                               **{**SHORT, "templates.min_amp": 5, "templates.min_dist": 1,
                                                  "spiketrains.n_exc": 3, "spiketrains.n_inh": 0,
                                                  "cell_types.excitatory": ["PC"]})
    assert isinstance(recording.to_dict()["kwargs"]["template_library"]["templates"], np.ndarray)
    assert not recording.check_serializability("json") and not sorting.check_serializability("json")
    assert recording.check_serializability("pickle")
    again = pickle.loads(pickle.dumps(recording))
    assert np.array_equal(again.get_traces(end_frame=2000), recording.get_traces(end_frame=2000))


def test_unit_templates_and_locations_come_from_the_library_rows_of_the_sorting():
    recording, sorting = generate_ground_truth(seed=6, template_library="default", **SHORT)
    library = si_recsim.load_template_library("default")
    ids = sorting.get_property("template_id")
    templates = recording.get_unit_templates()
    assert list(templates.unit_ids) == list(sorting.unit_ids)
    assert np.array_equal(templates.templates_array, library.templates[ids])
    assert np.array_equal(recording.get_unit_locations(), library.locations[ids])
    assert np.array_equal(sorting.get_property("gt_unit_locations"), library.locations[ids])


def test_a_recording_refuses_a_sorting_from_another_library(mearec_library_path):
    chosen = {"templates.template_ids": [100, 400], "spiketrains.rates": [5.0, 5.0], "spiketrains.types": ["E", "I"]}
    _, sorting = generate_ground_truth(seed=1, template_library="default", **SHORT, **chosen)
    assert si_recsim.load_template_library(mearec_library_path).num_templates <= 400
    with pytest.raises(ParameterError, match="give the library the sorting was made with"):
        SimulatedRecording(sorting, template_library=None, template_library_path=str(mearec_library_path))


def test_convolved_templates_are_the_library_ones_padded_and_jittered():
    recording, sorting = generate_ground_truth(seed=2, **{"spiketrains.duration": 1})
    library = recording.get_unit_templates()
    convolved = recording.get_unit_templates(kind="convolved")
    assert convolved.sampling_frequency == recording.sampling_frequency == library.sampling_frequency
    pad = convolved.nbefore - library.nbefore  # templates.pad_len[0] at the library's rate
    assert pad == int(round(3.0 * library.sampling_frequency / 1000))
    for unit in range(sorting.get_num_units()):
        main = np.argmin(library.templates_array[unit].min(axis=0))
        original = library.templates_array[unit][:, main]
        shifted = convolved.templates_array[unit][pad: pad + len(original), main]
        assert np.corrcoef(original, shifted)[0, 1] > 0.99  # sub-sample jitters only smooth the waveform
