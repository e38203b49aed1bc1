"""Blue Brain NMC-portal models (the ones an installed MEArec carries), compiled under this NEURON."""

import numpy as np
import pytest

from si_recsim.biophysics.nmc_models import mearec_model_folders, nmc_cell_models
from si_recsim.biophysics.template_generation import generate_template_library

pytestmark = pytest.mark.slow  # compiles ion-channel mechanisms: heavier than the fast lane

pytest.importorskip("LFPy")


@pytest.fixture(scope="module")
def bp_folder():
    folders = [folder for folder in mearec_model_folders() if folder.name == "L5_BP_bAC217_1"]
    if not folders:
        pytest.fail("MEArec's cell models were not found: MEArec is a test dependency (pip install '.[test]').")
    return folders[0]


def test_mearec_bbp_model_compiles_and_gives_templates(bp_folder, tmp_path_factory):
    cache = tmp_path_factory.mktemp("nmc_cache")
    library = generate_template_library(cell_models=[str(bp_folder)], n=2, ncontacts=1, seed=0, cache_folder=cache, bank=None,
                                 progress_bar=False)
    assert list(library.cell_models) == ["L5_BP_bAC217_1"] * 2
    assert np.all(library.amplitudes() >= 30)
    compiled = list((cache / "mechanisms").iterdir())
    assert len(compiled) == 1
    # a second run finds the compiled mechanisms and the cached currents
    again = generate_template_library(cell_models=[str(bp_folder)], n=2, ncontacts=1, seed=0, cache_folder=cache, bank=None,
                               progress_bar=False)
    assert np.array_equal(again.templates, library.templates)
    details = library.info["models"]["L5_BP_bAC217_1"]
    assert details["celsius"] == 34.0 and details["n_spikes"] >= 3


def test_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not an NMC-portal model folder"):
        nmc_cell_models([tmp_path])


def test_broken_mechanism_fails_at_once_with_the_compiler_output(tmp_path, bp_folder):
    import shutil

    broken = tmp_path / "L5_BROKEN_model_1"
    shutil.copytree(bp_folder, broken)
    (broken / "mechanisms" / "NaTs2_t.mod").write_text("NEURON { SUFFIX NaTs2_t \n this is not NMODL")
    with pytest.raises(RuntimeError, match="nrnivmodl failed"):
        nmc_cell_models([broken], cache_folder=tmp_path / "cache")


def test_several_models_share_one_process():
    folders = {folder.name: folder for folder in mearec_model_folders()}
    names = ["L5_BP_bAC217_1", "L5_MC_bAC217_1", "L5_TTPC1_cADpyr232_1"]
    models = nmc_cell_models([folders[name] for name in names])
    # every model keeps its own morphology although the files share names (MEArec's segment counts)
    counts = [model.make_cell(0.025, 5.0).totnsegs for model in models + models]
    assert counts == [245, 193, 1325] * 2
