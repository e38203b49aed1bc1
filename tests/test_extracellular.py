"""Template computation from membrane currents (issue: biophysical templates)."""

import numpy as np
import pytest
from helpers import make_ball_and_sticks

from si_recsim.library.cell_bank import CellCurrents
from si_recsim.library.placement import (
    PlacementSettings,
    contact_points,
    eap_from_currents,
    generate_cell_templates,
    place_segments,
    random_angles,
    recentre,
    rotation_matrix,
)
from si_recsim.physics import line_source_matrix
from si_recsim.probes import probe_from_name

LFPy = pytest.importorskip("LFPy")


def _ball_and_sticks(dt=2.0**-5, tstop=100.0):
    return make_ball_and_sticks(dt, tstop)


def _soma_centred_geometry(cell):
    soma = np.asarray(cell.somapos, dtype=float)
    starts = np.column_stack([cell.x[:, 0], cell.y[:, 0], cell.z[:, 0]]) - soma
    ends = np.column_stack([cell.x[:, -1], cell.y[:, -1], cell.z[:, -1]]) - soma
    return starts, ends


def test_potentials_equal_lfpy_line_source():
    cell = _ball_and_sticks()
    starts, ends = _soma_centred_geometry(cell)
    position, angles = np.array([12.0, -35.0, 40.0]), np.array([0.4, -1.1, 2.3])
    cell.set_rotation(x=angles[0], y=angles[1], z=angles[2])
    cell.set_pos(*position)
    electrodes = np.column_stack([np.linspace(-50, 60, 16), np.linspace(-100, 90, 16), np.zeros(16)])
    reference = LFPy.RecExtElectrode(cell, x=electrodes[:, 0], y=electrodes[:, 1], z=electrodes[:, 2], sigma=0.3,
                                     method="linesource").get_transformation_matrix()
    placed_starts, placed_ends = place_segments(starts, ends, position, angles)
    ours = line_source_matrix(electrodes, placed_starts, placed_ends, 0.3, np.asarray(cell.d) / 2)
    assert np.allclose(ours, reference, rtol=1e-6, atol=0)
    currents = np.random.default_rng(0).normal(size=(cell.totnsegs, 50))
    eap = eap_from_currents(electrodes[:, None, :], placed_starts, placed_ends, np.asarray(cell.d), currents, 0.3, 1.0)
    assert np.allclose(eap, 1000 * reference @ currents, rtol=1e-6, atol=1e-9)


def test_rotation_convention_is_lfpys():
    cell = _ball_and_sticks()
    starts, _ = _soma_centred_geometry(cell)
    angles = np.array([0.3, 0.7, -1.2])
    cell.set_rotation(x=angles[0], y=angles[1], z=angles[2])
    rotated, _ = _soma_centred_geometry(cell)
    assert np.allclose(starts @ rotation_matrix(angles).T, rotated, atol=1e-9)


@pytest.mark.parametrize("mode", ["norot", "xrot", "yrot", "zrot", "3drot", "physrot"])
def test_rotation_modes(mode):
    rng = np.random.default_rng(1)
    axes = np.array([rotation_matrix(random_angles(mode, True, rng)) @ [0.0, 1.0, 0.0] for _ in range(200)])
    if mode in ("norot", "zrot"):  # zrot turns about the probe's long axis: the cell axis stays put
        assert np.allclose(axes, [0, 1, 0])
    elif mode == "physrot":
        assert np.degrees(np.arccos(np.clip(axes[:, 1], -1, 1))).max() <= 15.0 + 1e-9
    elif mode == "3drot":
        assert axes[:, 1].min() < -0.5 and axes[:, 1].max() > 0.5
    elif mode == "xrot":  # MEArec's x is the plane normal: the axis turns within the probe plane
        assert np.allclose(axes[:, 2], 0) and axes[:, 0].std() > 0.3
    else:  # yrot turns about the across axis: the axis leaves the plane
        assert np.allclose(axes[:, 0], 0) and axes[:, 2].std() > 0.3
    unconstrained = np.array([rotation_matrix(random_angles("physrot", False, rng)) @ [0, 1.0, 0]
                              for _ in range(200)])
    assert unconstrained[:, 1].min() < 0


def test_contact_points_lie_on_their_contacts():
    rng = np.random.default_rng(2)
    circles = probe_from_name("Neuronexus-32")
    points = contact_points(circles, 50, rng)
    centres = np.asarray(circles.contact_positions)
    assert np.allclose(points[..., 2], 0)
    assert np.linalg.norm(points[..., :2] - centres[:, None], axis=-1).max() <= 7.5
    squares = probe_from_name("Neuropixels-24")
    offsets = contact_points(squares, 50, rng)[..., :2] - np.asarray(squares.contact_positions)[:, None]
    assert np.abs(offsets).max() <= 6.0 and np.abs(offsets).max() > 4.0
    assert np.allclose(contact_points(squares, 1, rng)[:, 0, :2], squares.contact_positions)


def test_recentre_puts_the_trough_at_nbefore():
    template = np.zeros((3, 20))
    template[1, 12] = -5
    template[0, :] += np.arange(20) * 0.01
    moved = recentre(template, 6)
    assert np.unravel_index(np.argmin(moved), moved.shape) == (1, 6)
    assert np.allclose(moved[0, -6:], template[0, -1])


def _synthetic_spikes() -> CellCurrents:
    """A soma-centred dipole: a sink at the soma balanced by sources along the +y stick."""
    n_segments, n_samples = 11, 64
    starts = np.column_stack([np.zeros(n_segments), np.arange(n_segments) * 20.0 - 10, np.zeros(n_segments)])
    shape = -np.exp(-0.5 * ((np.arange(n_samples) - 20) / 3.0) ** 2)
    currents = np.zeros((n_segments, n_samples))
    currents[0] = 2.0 * shape
    currents[1:] = -2.0 * shape / (n_segments - 1)
    return CellCurrents(name="synthetic", currents=np.stack([currents, 1.1 * currents]),
                        somatic_voltage=np.zeros((2, n_samples)), starts=starts, ends=starts + [0.0, 20.0, 0.0],
                        diameters=np.full(n_segments, 2.0), somatic=np.arange(n_segments) == 0, dt=2.0**-5,
                        nbefore=20, stimulus_nA=0.0)


def test_generated_templates_follow_the_acceptance_rules():
    probe = probe_from_name("Neuronexus-32")
    settings = PlacementSettings.from_params(n=12, min_amp=20.0, rot="3drot", ncontacts=3)
    first = generate_cell_templates(_synthetic_spikes(), probe, settings, True, np.random.default_rng(5))
    again = generate_cell_templates(_synthetic_spikes(), probe, settings, True, np.random.default_rng(5))
    templates, locations = first["templates"], first["locations"]
    assert templates.shape == (12, 64, 32) and np.array_equal(templates, again["templates"])
    assert np.all(np.abs(templates.min(axis=(1, 2))) >= 20.0)
    assert np.all(np.abs(templates.min(axis=(1, 2))) >= np.abs(templates.max(axis=(1, 2))))
    assert np.all(np.argmin(templates.min(axis=2), axis=1) == 20)
    assert np.all((locations[:, 2] >= 10) & (locations[:, 2] <= 80))
    one = dict(n=1, min_amp=0.0, ncontacts=1, rot="norot")
    planar = generate_cell_templates(_synthetic_spikes(), probe, PlacementSettings.from_params(**one), True,
                                     np.random.default_rng(0))
    no_images = generate_cell_templates(_synthetic_spikes(), probe,
                                        PlacementSettings.from_params(**one, method_of_images=False), True,
                                        np.random.default_rng(0))
    assert np.allclose(planar["templates"], 2 * no_images["templates"], rtol=1e-5)


def test_unreachable_amplitude_returns_fewer_templates():
    result = generate_cell_templates(_synthetic_spikes(), probe_from_name("Neuronexus-32"),
                                     PlacementSettings.from_params(n=3, min_amp=1e6, max_iterations=5, ncontacts=1),
                                     True, np.random.default_rng(0))
    assert result["templates"].shape[0] == 0 and result["rejected"] == 15


def test_physrot_sampling_is_uniform_on_the_cone():
    rng = np.random.default_rng(3)
    axes = np.array([rotation_matrix(random_angles("physrot", True, rng)) @ [0.0, 1.0, 0.0] for _ in range(4000)])
    # uniform on the spherical cap: cos(tilt) uniform in [cos 15°, 1], azimuth uniform
    cos_tilt = axes[:, 1]
    low = np.cos(np.deg2rad(15))
    assert cos_tilt.min() >= low - 1e-12
    assert abs(np.mean(cos_tilt) - (1 + low) / 2) < 0.002
    azimuth = np.arctan2(axes[:, 2], axes[:, 0])
    assert np.histogram(azimuth, bins=4, range=(-np.pi, np.pi))[0].min() > 900
    # the spin about the cell axis is uniform too: a perpendicular direction covers all angles
    spins = np.array([rotation_matrix(random_angles("physrot", True, rng)) @ [1.0, 0.0, 0.0] for _ in range(2000)])
    assert np.histogram(np.arctan2(spins[:, 2], spins[:, 0]), bins=4, range=(-np.pi, np.pi))[0].min() > 400


def test_3d_probe_placement_convention():
    """A 2-D probe lifted to 3-D (plane z = 0) gives the 2-D probe's templates without image factor."""
    planar = probe_from_name("Neuronexus-32")
    lifted = planar.to_3d(axes="xy")
    lifted.set_device_channel_indices(np.arange(32))
    settings = PlacementSettings.from_params(n=3, min_amp=0.0, ncontacts=4, rot="3drot", method_of_images=False)
    flat = generate_cell_templates(_synthetic_spikes(), planar, settings, True, np.random.default_rng(7))
    solid = generate_cell_templates(_synthetic_spikes(), lifted, settings, True, np.random.default_rng(7))
    assert np.allclose(flat["templates"], solid["templates"])
    assert np.allclose(flat["locations"], solid["locations"])
    # a 3-D probe raised to z = 100 um places cells 10-80 um above its contacts, and is not doubled
    raised = planar.to_3d(axes="xy")
    raised.move([0.0, 0.0, 100.0])
    raised.set_device_channel_indices(np.arange(32))
    settings = PlacementSettings.from_params(n=3, min_amp=0.0, ncontacts=4, rot="3drot")
    moved = generate_cell_templates(_synthetic_spikes(), raised, settings, True, np.random.default_rng(7))
    assert np.all((moved["locations"][:, 2] >= 110) & (moved["locations"][:, 2] <= 180))
    assert np.allclose(moved["templates"], flat["templates"])
