import numpy as np
import pytest
from spikeinterface.core import load

from si_recsim import generate_ground_truth, probe_from_name
from si_recsim.library.analytic import make_analytic_library
from si_recsim.library.cell_classes import cell_category
from si_recsim.library.loading import load_template_library
from si_recsim.library.mearec_templates import read_mearec_templates
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.recording.selection import SelectionError

EXCITATORY, INHIBITORY = ["PC", "SS", "SP"], ["AC", "BP", "BC", "BTC", "ChC", "DBC", "MC", "NGC"]


@pytest.mark.parametrize(
    "name, category",
    [("L5_TTPC1_cADpyr232_1", "E"), ("L5_STPC_cADpyr232_1", "E"), ("L5_MC_bAC217_1", "I"),
     ("L5_NGC_bNAC219_1", "I"), ("L5_SBC_bNAC219_1", "I"), ("analytic_PC", "E"), ("analytic_BC", "I"),
     ("mystery", "U")],
)
def test_cell_categories(name, category):
    assert cell_category(name, EXCITATORY, INHIBITORY) == category


def test_impossible_selection_names_the_rule_and_the_fix():
    with pytest.raises(SelectionError) as error:
        generate_ground_truth(seed=0, **{"spiketrains.duration": 1, "templates.min_dist": 400})
    text = str(error.value)
    assert "min_dist" in text and "lower templates.min_dist" in text


def test_amplitude_window_failure_is_explained():
    with pytest.raises(SelectionError, match="widen templates.min_amp"):
        generate_ground_truth(seed=0, **{"spiketrains.duration": 1, "templates.min_amp": 270,
                                         "templates.max_amp": 280})


def test_overlap_pairs_target_is_met():
    recording, _ = generate_ground_truth(seed=3, **{"spiketrains.duration": 1, "templates.n_overlap_pairs": 2,
                                                    "templates.min_dist": 10})
    from si_recsim.recording.selection import overlapping_pairs

    threshold = recording.get_annotation("si_recsim_params")["templates"]["overlap_threshold"]
    assert len(overlapping_pairs(recording.get_unit_templates().templates_array, threshold)) == 2


def test_position_limits_are_in_mearec_frame():
    # MEArec's xlim is the distance from the probe plane: si_recsim's z
    _, sorting = generate_ground_truth(seed=2, **{"spiketrains.duration": 1, "templates.xlim": [10, 40]})
    distance = sorting.get_property("gt_unit_locations")[:, 2]
    assert np.all((distance >= 10) & (distance <= 40))
    # MEArec's zlim runs along the probe: si_recsim's y
    _, sorting = generate_ground_truth(seed=2, **{"spiketrains.duration": 1, "templates.zlim": [0, 200]})
    along = sorting.get_property("gt_unit_locations")[:, 1]
    assert np.all((along >= 0) & (along <= 200))


def test_analytic_library_is_labelled_and_has_both_widths():
    library = make_analytic_library()
    assert "not biophysical" in library.source
    rebuilt = load_template_library(library.to_spec())  # the description rebuilds the same templates
    assert np.array_equal(rebuilt.templates, library.templates) and np.array_equal(rebuilt.locations, library.locations)

    def trough_width(index):
        template = library.templates[index]
        trace = template[:, np.argmin(template.min(axis=0))]
        return np.sum(trace < trace.min() / 2)

    excitatory = [trough_width(i) for i in np.flatnonzero(library.cell_models == "analytic_PC")[:20]]
    inhibitory = [trough_width(i) for i in np.flatnonzero(library.cell_models == "analytic_BC")[:20]]
    assert np.median(excitatory) > 1.3 * np.median(inhibitory)


def test_library_from_spikeinterface_templates_round_trips():
    library = make_analytic_library(n_near=30, n_far=0)
    rebuilt = TemplateLibrary.from_templates(library.to_templates(), library.locations, library.cell_models)
    assert np.array_equal(rebuilt.templates, library.templates)
    recording, sorting = generate_ground_truth(template_library=rebuilt, seed=1,
                                               **{"spiketrains.duration": 1, "spiketrains.n_exc": 2,
                                                  "spiketrains.n_inh": 1, "templates.min_dist": 5})
    assert sorting.get_num_units() == 3
    assert isinstance(recording._kwargs["template_library"], dict)


def test_mearec_template_library_is_read_in_our_frame(mearec_library_path):
    import h5py
    import MEAutility

    library = read_mearec_templates(mearec_library_path)
    with h5py.File(mearec_library_path, "r") as file:
        raw_templates, raw_locations = file["templates"][()], file["locations"][()]
    assert library.templates.shape == (65, 224, 32)
    assert np.array_equal(library.templates[7], raw_templates[7].T)
    # si_recsim (x, y, z) = MEArec (y, z, x): distance from the probe plane is MEArec's x
    assert np.allclose(library.locations, raw_locations[:, [1, 2, 0]])
    assert library.nbefore == 64 and library.sampling_frequency == 32000
    mea = MEAutility.return_mea("Neuronexus-32")
    assert np.allclose(library.probe.contact_positions, mea.positions[:, 1:])
    assert np.allclose(probe_from_name("Neuronexus-32").contact_positions, mea.positions[:, 1:])
    # every template's trough sits at nbefore
    troughs = np.argmin(library.templates.min(axis=2), axis=1)
    assert np.all(troughs == 64)


def test_recording_from_mearec_library(mearec_library_path):
    recording, sorting = generate_ground_truth(template_library=mearec_library_path, seed=0,
                                               **{"spiketrains.duration": 2})
    models = sorting.get_property("cell_model")
    types = sorting.get_property("cell_type")
    assert all(cell_category(model, EXCITATORY, INHIBITORY) == kind for model, kind in zip(models, types))
    # the file travels as a path under a *_path key, which SpikeInterface makes relative to a folder
    path = mearec_library_path.resolve()
    assert recording.to_dict()["kwargs"]["template_library_path"] == str(path)
    relative = recording.to_dict(recursive=True, relative_to=path.parent)
    assert relative["relative_paths"] and relative["kwargs"]["template_library_path"] == path.name
    assert relative["kwargs"]["sorting"]["kwargs"]["template_library_path"] == path.name
    assert recording.get_traces(start_frame=0, end_frame=1000).shape == (1000, 32)


def test_non_default_analytic_library_rebuilds_on_its_own_probe():
    library = make_analytic_library("Neuropixels-64", n_near=80, n_far=0)
    recording, sorting = generate_ground_truth(template_library=library, seed=0, **{"spiketrains.duration": 1,
                                                                                    "templates.min_dist": 5})
    assert recording.get_num_channels() == 64
    again = load(recording.to_dict(recursive=True))  # rebuilt from its description alone
    assert np.array_equal(again.get_unit_templates().templates_array, library.templates[sorting.get_property("template_id")])


def test_vectorised_overlap_pairs_match_the_pairwise_rule():
    from si_recsim.recording.selection import overlapping, overlapping_pairs

    library = make_analytic_library(n_near=40, n_far=0)
    templates = library.templates[:40]
    expected = [(i, j) for i in range(40) for j in range(i + 1, 40) if overlapping(templates[i], templates[j], 0.5)]
    assert [tuple(pair) for pair in overlapping_pairs(templates, 0.5)] == expected
    assert len(expected) > 0


def test_default_library_is_the_packaged_biophysical_one():
    from si_recsim.library.loading import load_template_library

    library = load_template_library("default")
    assert "built-in NEURON cell models" in library.source
    assert set(library.cell_models) == {"builtin_PC", "builtin_MC", "builtin_BC"}
    assert library.probe.get_contact_count() == 32 and library.sampling_frequency == 32000
    amplitudes = library.amplitudes()
    assert np.sum(amplitudes < 10) >= 300  # enough background units for default far-neurons noise
    assert np.sum((amplitudes > 50) & (library.cell_models == "builtin_PC")) >= 7
