"""Template libraries in MEArec's format, checked with MEArec itself."""

import numpy as np
import pytest

from si_recsim.library.analytic import make_analytic_library
from si_recsim.library.loading import load_template_library
from si_recsim.library.mearec_templates import (
    mearec_to_si_rotations,
    read_mearec_templates,
    si_to_mearec_rotations,
    write_mearec_templates,
)
from si_recsim.library.placement import rotation_matrix
from si_recsim.probes import si_to_mearec_matrix, si_to_mearec_positions


def test_rotation_conversion_places_the_cell_identically():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-np.pi, np.pi, (20, 3))
    mearec = si_to_mearec_rotations(angles)
    morphology_point = np.array([3.0, -7.0, 11.0])
    for ours, theirs in zip(angles, mearec):
        in_our_frame = rotation_matrix(ours) @ morphology_point
        in_mearec_frame = rotation_matrix(theirs) @ morphology_point
        assert np.allclose(si_to_mearec_positions(in_our_frame), in_mearec_frame)
    assert np.allclose(rotation_matrix(mearec_to_si_rotations(mearec)[3]), rotation_matrix(angles[3]))
    assert np.isclose(np.linalg.det(si_to_mearec_matrix()), 1.0)


def test_mearec_loads_our_default_library_and_generates_a_recording(tmp_path):
    mr = pytest.importorskip("MEArec")
    library = load_template_library("default")
    path = write_mearec_templates(library, tmp_path / "templates.h5")
    tempgen = mr.load_templates(str(path), return_h5_objects=False)
    assert np.allclose(tempgen.templates, np.transpose(library.templates, (0, 2, 1)))
    assert np.allclose(tempgen.locations[:, [1, 2, 0]], library.locations)
    assert list(tempgen.celltypes) == list(library.cell_models)
    assert tempgen.info["params"]["dt"] == pytest.approx(1000 / 32000)
    params = mr.get_default_recordings_params()
    params["spiketrains"].update(duration=1, n_exc=2, n_inh=1)
    params["cell_types"] = {"excitatory": ["PC"], "inhibitory": ["BC", "MC"]}
    params["seeds"] = {"spiketrains": 1, "templates": 2, "convolution": 3, "noise": 4}
    recgen = mr.gen_recordings(params=params, tempgen=tempgen, verbose=False)
    assert recgen.recordings.shape == (32000, 32)
    # and back into si_recsim
    back = read_mearec_templates(path)
    assert np.allclose(back.templates, library.templates, atol=1e-3)
    assert np.allclose(back.locations, library.locations)
    assert np.allclose(back.probe.contact_positions, library.probe.contact_positions)
    assert np.allclose([rotation_matrix(a) for a in back.rotations], [rotation_matrix(a) for a in library.rotations])


def test_custom_probe_is_written_with_explicit_positions(tmp_path):
    mr = pytest.importorskip("MEArec")
    from probeinterface import generate_linear_probe

    probe = generate_linear_probe(num_elec=8, ypitch=25)
    library = make_analytic_library("Neuronexus-32", n_near=10, n_far=0)
    library.probe = probe
    library.templates = library.templates[:, :, :8]
    path = write_mearec_templates(library, tmp_path / "custom.h5")
    tempgen = mr.load_templates(str(path), return_h5_objects=False)
    positions = np.asarray(tempgen.info["electrodes"]["pos"])
    assert np.allclose(positions[:, [1, 2]], probe.contact_positions)
    assert np.allclose(read_mearec_templates(path).probe.contact_positions, probe.contact_positions)
