import numpy as np
import pytest

from si_recsim.probes import (
    available_probe_names,
    is_planar_mea,
    mearec_to_si_positions,
    neuropixels_part_numbers,
    probe_from_name,
    si_to_mearec_positions,
)


@pytest.mark.parametrize("name", available_probe_names())
def test_named_probes_match_meautility(name):
    import MEAutility

    mea = MEAutility.return_mea(name)
    plane_axes = {"xy": [0, 1], "xz": [0, 2], "yz": [1, 2]}[mea.info.get("plane", "yz")]
    probe = probe_from_name(name)
    assert np.allclose(probe.contact_positions, mea.positions[:, plane_axes])
    assert probe.device_channel_indices is not None
    assert is_planar_mea(probe) == (mea.info["type"] == "mea")
    shape = probe.contact_shapes[0]
    assert shape == mea.info["shape"]
    size = probe.contact_shape_params[0]["radius" if shape == "circle" else "width"]
    assert size == pytest.approx(mea.info["size"] * (1 if shape == "circle" else 2))


def test_neuropixels_parts_from_probeinterface_table():
    parts = neuropixels_part_numbers()
    assert "NP1000" in parts and "NP2000" in parts
    probe = probe_from_name("NP1000")
    assert probe.get_contact_count() == 960 and probe.device_channel_indices is not None


def test_unknown_probe_error_lists_the_options():
    with pytest.raises(ValueError, match="Neuronexus-32"):
        probe_from_name("Neuronexus-33")


def test_frame_conversion_round_trip():
    positions = np.random.default_rng(0).normal(size=(10, 3))
    assert np.allclose(si_to_mearec_positions(mearec_to_si_positions(positions)), positions)
    # a cell 20 um in front of a yz-plane MEArec probe is 20 um in front of our z = 0 plane
    assert np.allclose(mearec_to_si_positions([20.0, 5.0, -30.0]), [5.0, -30.0, 20.0])
