"""Extracellular action potentials of simulated cells placed in front of a probe.

Given the membrane currents of a cell's spikes (:class:`si_recsim.library.cell_bank.CellCurrents`, geometry
centred on the soma), a template is ``EAP = 1000 * M @ I`` µV with ``M`` from
:mod:`si_recsim.physics` for the segments rotated about the soma and moved to a soma position.

Conventions (si_recsim's frame, see :mod:`si_recsim.probes`): a 2-D probe lies in the plane z = 0
with its long axis along y; cells are placed at z > 0. A 3-D probe keeps its own coordinates and
cells are placed above its contacts' mean z (see :func:`placement_limits`); potentials are not
doubled for 3-D probes unless ``method_of_images`` asks for it. Rotations are Euler angles (radians) about
the fixed x, then y, then z axes, applied about the soma, i.e. LFPy's ``Cell.set_rotation`` order.
The placement limits and rotation modes keep MEArec's meaning: ``xlim`` is the distance from the
probe plane, ``ylim`` runs across and ``zlim`` along the probe; ``xrot``, ``yrot`` and ``zrot``
turn about MEArec's x (the plane normal, our z), y (across, our x) and z (along, our y) axes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from si_recsim.errors import InputError
from si_recsim.params.templates import TemplateParameters, build_template_params
from si_recsim.physics import IMAGE_FACTOR_PLANAR, point_source_positions, segment_matrix
from si_recsim.probes import contact_positions_3d, is_planar_mea

ROTATION_MODES = ("norot", "xrot", "yrot", "zrot", "3drot", "physrot")
# MEArec axis name → si_recsim axis index
_MEAREC_AXIS = {"xrot": 2, "yrot": 0, "zrot": 1}
PHYSROT_MAX_ANGLE_DEG = 15.0


@dataclass(frozen=True)
class PlacementSettings:
    """How cells are placed and templates accepted (MEArec's ``templates_params.yaml`` keys; build
    them with :meth:`from_params`, whose defaults are the parameter schema's).

    Attributes
    ----------
    n : int
        Templates wanted per cell model.
    xlim : tuple
        Distance of the soma from the probe plane, µm.
    ylim, zlim : tuple | None
        Across / along the probe, µm; None = the probe's extent plus ``overhang``.
    overhang : float
        µm.
    x_distr : "uniform" | "beta"
        Distribution of the distance from the probe.
    beta_distr_params : tuple
        (a, b) of the beta distribution scaled to ``xlim``.
    rot : str
        One of :data:`ROTATION_MODES`.
    min_amp : float
        Minimum absolute negative peak, µV.
    check_eap_shape : bool
        Reject templates whose positive peak is larger than their negative peak.
    ncontacts : int
        Random points per contact averaged over the contact surface (1 = contact centre).
    sigma : float
        Extracellular conductivity, S/m.
    method_of_images : bool | None
        Double the potentials (insulating probe plane); None = MEArec's rule (planar MEA probes
        yes, microwires no).
    source_model : "linesource" | "soma_as_point"
        ``linesource`` (MEArec, LFPy): every segment is a line source; ``soma_as_point``
        (neurodamus electrodes files, BlueRecording): somatic segments are point sources at
        their midpoints, the others line sources.
    max_iterations : int
        Give up after ``max_iterations * n`` rejected candidates.
    timeout : float | None
        Give up after this many seconds.
    drifting : bool
        Compute each template along a straight drift trajectory.
    drift_steps : int
        Positions per trajectory (both ends included).
    min_drift, max_drift : float
        Bounds of the trajectory length, µm.
    drift_limits : tuple
        ((x), (y), (z)) ranges of the final minus the initial position in si_recsim's frame, µm
        (MEArec's ``drift_ylim``, ``drift_zlim``, ``drift_xlim``).
    check_for_drift_amp : bool
        Also require ``min_amp`` at the final position.
    drift_within_bounds : bool
        Also require the final position inside the placement limits.
    """

    n: int
    xlim: tuple
    ylim: tuple | None
    zlim: tuple | None
    overhang: float
    x_distr: str
    beta_distr_params: tuple
    rot: str
    min_amp: float
    check_eap_shape: bool
    ncontacts: int
    sigma: float
    method_of_images: bool | None
    source_model: str
    max_iterations: int
    timeout: float | None
    drifting: bool
    drift_steps: int
    min_drift: float
    max_drift: float
    drift_limits: tuple
    check_for_drift_amp: bool
    drift_within_bounds: bool

    @classmethod
    def from_params(cls, params: dict | TemplateParameters | None = None, **overrides) -> PlacementSettings:
        """The settings of template parameters (:class:`~si_recsim.params.templates.TemplateParameters`,
        completed with its defaults), e.g. ``PlacementSettings.from_params(n=3, rot="norot")``."""
        params = build_template_params(params, **overrides)
        return cls(
            n=params.n, xlim=tuple(params.xlim), ylim=None if params.ylim is None else tuple(params.ylim),
            zlim=None if params.zlim is None else tuple(params.zlim), overhang=params.overhang,
            x_distr=params.x_distr, beta_distr_params=tuple(params.beta_distr_params), rot=params.rot,
            min_amp=params.min_amp, check_eap_shape=params.check_eap_shape, ncontacts=params.ncontacts,
            sigma=params.sigma, method_of_images=params.method_of_images, source_model=params.source_model,
            max_iterations=params.max_iterations, timeout=params.timeout, drifting=params.drifting,
            drift_steps=params.drift_steps, min_drift=params.min_drift, max_drift=params.max_drift,
            # MEArec's drift limits are (distance, across, along): si_recsim's (z, x, y)
            drift_limits=(tuple(params.drift_ylim), tuple(params.drift_zlim), tuple(params.drift_xlim)),
            check_for_drift_amp=params.check_for_drift_amp, drift_within_bounds=params.drift_within_bounds)


MAX_DRIFT_TRIES = 100
#: a position whose trough at the contact centres (within :data:`SCREEN_WINDOW_MS` of the somatic
#: peak) is below this fraction of ``min_amp`` is rejected before the (ncontacts times costlier)
#: average over the contact surfaces is computed
SCREEN_FRACTION = 0.7
#: the screen looks at the samples within this many ms of the somatic peak, where troughs are, ms
SCREEN_WINDOW_MS = 1.0


def rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """3×3 matrix of Euler angles (radians) about fixed x, y, then z (LFPy's order)."""
    return Rotation.from_euler("xyz", np.asarray(angles, dtype=float)).as_matrix()


def place_segments(starts: np.ndarray, ends: np.ndarray, position: np.ndarray,
                   angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate soma-centred segment end points by ``angles`` and move the soma to ``position``."""
    matrix = rotation_matrix(angles)
    return starts @ matrix.T + position, ends @ matrix.T + position


def contact_points(probe, n_points: int, rng: np.random.Generator) -> np.ndarray:
    """Points on each contact's surface: (n_contacts, n_points, 3), µm.

    One point is the contact centre; more are drawn uniformly inside the contact (disc of its
    radius, or square/rectangle of its size) in the contact's plane.
    """
    centres = contact_positions_3d(probe)
    if n_points == 1:
        return centres[:, None, :]
    plane_axes = np.asarray(probe.contact_plane_axes, dtype=float)
    if plane_axes.shape[-1] == 2:
        plane_axes = np.concatenate([plane_axes, np.zeros(plane_axes.shape[:2] + (1,))], axis=-1)
    points = np.empty((len(centres), n_points, 3))
    for index, (shape, shape_params) in enumerate(zip(probe.contact_shapes, probe.contact_shape_params)):
        if shape == "circle":
            radius = shape_params["radius"] * np.sqrt(rng.random(n_points))
            angle = 2 * np.pi * rng.random(n_points)
            offsets = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
        else:
            width = shape_params["width"]
            height = shape_params.get("height", width)
            offsets = (rng.random((n_points, 2)) - 0.5) * np.array([width, height])
        points[index] = centres[index] + offsets @ plane_axes[index]
    return points


def eap_from_currents(points: np.ndarray, starts: np.ndarray, ends: np.ndarray, diameters: np.ndarray,
                      currents: np.ndarray, sigma: float, image_factor: float,
                      somatic: np.ndarray | None = None, soma_center: np.ndarray | None = None) -> np.ndarray:
    """Template (n_contacts, n_samples) in µV of placed segments carrying ``currents`` (n_segments, n_samples) nA.

    With ``somatic`` (bool per segment) and ``soma_center`` (µm), somatic segments are point sources at
    the soma centre (:func:`si_recsim.physics.point_source_positions`); otherwise every segment is a line.
    """
    n_contacts, n_points, _ = points.shape
    positions = None if somatic is None else point_source_positions(starts, ends, somatic, soma_center)
    matrix = segment_matrix(points.reshape(-1, 3), starts, ends, diameters, sigma, point_sources=somatic,
                            image_factor=image_factor, point_positions=positions)
    averaged = matrix.reshape(n_contacts, n_points, -1).mean(axis=1)
    return 1000.0 * averaged @ currents


def random_angles(mode: str, constrained: bool, rng: np.random.Generator) -> np.ndarray:
    """Euler angles of a random rotation in one of :data:`ROTATION_MODES`.

    ``physrot`` keeps the cell axis (+y) within :data:`PHYSROT_MAX_ANGLE_DEG` of +y when
    ``constrained`` (cell types with a preferred orientation, e.g. pyramidal cells), and draws any
    3-D rotation otherwise. The constrained rotation is a uniform rotation conditioned on that cone,
    sampled directly: the image of the axis uniform on the spherical cap, then a uniform spin about
    it.
    """
    if mode not in ROTATION_MODES:
        raise InputError(f"rot must be one of {list(ROTATION_MODES)}, got {mode!r}.")
    angles = np.zeros(3)
    if mode in _MEAREC_AXIS:
        angles[_MEAREC_AXIS[mode]] = rng.uniform(-np.pi, np.pi)
    elif mode == "3drot" or (mode == "physrot" and not constrained):
        angles = Rotation.random(random_state=rng).as_euler("xyz")
    elif mode == "physrot":
        cos_tilt = rng.uniform(np.cos(np.deg2rad(PHYSROT_MAX_ANGLE_DEG)), 1.0)
        azimuth, spin = rng.uniform(0.0, 2.0 * np.pi, 2)
        sin_tilt = np.sqrt(1.0 - cos_tilt**2)
        direction = np.array([sin_tilt * np.cos(azimuth), cos_tilt, sin_tilt * np.sin(azimuth)])
        tilt_axis = np.cross([0.0, 1.0, 0.0], direction)
        tilt = Rotation.from_rotvec(tilt_axis / max(np.linalg.norm(tilt_axis), 1e-300) * np.arccos(cos_tilt))
        angles = (tilt * Rotation.from_rotvec([0.0, spin, 0.0])).as_euler("xyz")
    return angles


def placement_limits(probe, settings: PlacementSettings) -> np.ndarray:
    """(3, 2) soma position bounds in si_recsim's frame (x across, y along, z distance).

    A 2-D probe lies in the plane z = 0, so ``xlim`` is the distance from it. A 3-D probe is used in
    its own coordinates: x and y span its contacts (plus ``overhang``) and ``xlim`` is measured up
    from the contacts' mean z.
    """
    positions = contact_positions_3d(probe)
    across = settings.ylim or (positions[:, 0].min() - settings.overhang, positions[:, 0].max() + settings.overhang)
    along = settings.zlim or (positions[:, 1].min() - settings.overhang, positions[:, 1].max() + settings.overhang)
    base = positions[:, 2].mean() if probe.ndim == 3 else 0.0
    return np.array([across, along, np.asarray(settings.xlim, dtype=float) + base], dtype=float)


def draw_position(limits: np.ndarray, settings: PlacementSettings, rng: np.random.Generator) -> np.ndarray:
    """A random soma position inside ``limits`` (distance uniform or scaled beta)."""
    position = rng.uniform(limits[:, 0], limits[:, 1])
    if settings.x_distr == "beta":
        low, high = limits[2]
        position[2] = low + (high - low) * rng.beta(*settings.beta_distr_params)
    return position


def recentre(template: np.ndarray, nbefore: int) -> np.ndarray:
    """Shift a template (n_contacts, n_samples) so its global minimum is at sample ``nbefore``;
    samples shifted in repeat the edge value."""
    trough = np.unravel_index(np.argmin(template), template.shape)[1]
    shift = nbefore - trough
    if shift == 0:
        return template
    shifted = np.roll(template, shift, axis=1)
    if shift > 0:
        shifted[:, :shift] = template[:, :1]
    else:
        shifted[:, shift:] = template[:, -1:]
    return shifted


def draw_final_position(position: np.ndarray, limits: np.ndarray, settings: PlacementSettings,
                        rng: np.random.Generator) -> np.ndarray | None:
    """End of a drift trajectory from ``position`` (MEArec's rules), or None after
    :data:`MAX_DRIFT_TRIES` unsuccessful draws."""
    drift_limits = np.asarray(settings.drift_limits, dtype=float)
    for _ in range(MAX_DRIFT_TRIES):
        offset = rng.uniform(drift_limits[:, 0], drift_limits[:, 1])
        if not settings.min_drift <= np.linalg.norm(offset) <= settings.max_drift:
            continue
        final = position + offset
        if settings.drift_within_bounds and not np.all((final >= limits[:, 0]) & (final <= limits[:, 1])):
            continue
        return final
    return None


def cell_potentials(spikes, spike: int, position: np.ndarray, angles: np.ndarray, points: np.ndarray, probe,
                    settings: PlacementSettings, samples: slice = slice(None)) -> np.ndarray:
    """(n_contacts, n_samples) µV of spike ``spike`` of a cell (``spikes``: CellCurrents) whose soma is at
    ``position`` (µm), rotated by ``angles`` (rad), averaged over ``points`` of each contact; the
    volume conductor of ``settings`` (conductivity, method of images, source model); only the
    ``samples`` of the currents' cut-out."""
    image = settings.method_of_images if settings.method_of_images is not None else is_planar_mea(probe)
    somatic = spikes.somatic if settings.source_model == "soma_as_point" else None
    starts, ends = place_segments(spikes.starts, spikes.ends, position, angles)
    return eap_from_currents(points, starts, ends, spikes.diameters, spikes.currents[spike][:, samples],
                             settings.sigma, IMAGE_FACTOR_PLANAR if image else 1.0, somatic, position)


def generate_cell_templates(spikes, probe, settings: PlacementSettings, constrained: bool,
                            rng: np.random.Generator, points: np.ndarray | None = None) -> dict:
    """Templates of one cell model at random positions and rotations.

    Parameters
    ----------
    spikes : CellCurrents
        Currents and soma-centred geometry of the cell's spikes.
    probe : Probe
    settings : PlacementSettings
    constrained : bool
        Whether ``physrot`` keeps this cell type upright.
    rng : np.random.Generator
    points : np.ndarray | None, default: None
        (n_contacts, n_points, 3) points averaged over each contact (:func:`contact_points`);
        None draws them from ``rng``.

    Returns
    -------
    result : dict
        ``templates`` (n, n_samples, n_contacts) float32 µV, ``locations`` (n, 3) µm,
        ``rotations`` (n, 3) rad, ``spike_indices`` (n,) the spike of ``spikes`` each carries,
        ``rejected`` (number of rejected candidates).
    """
    points = contact_points(probe, settings.ncontacts, rng) if points is None else points
    centres = contact_positions_3d(probe)[:, None, :]
    screening = points.shape[1] > 1 and settings.min_amp > 0
    half_window = int(round(SCREEN_WINDOW_MS / spikes.dt))
    around_peak = slice(max(spikes.nbefore - half_window, 0), spikes.nbefore + half_window + 1)
    limits = placement_limits(probe, settings)
    templates, locations, rotations, spike_indices = [], [], [], []
    seen = set()
    rejected = 0
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    while len(templates) < settings.n and rejected < settings.max_iterations * settings.n:
        if deadline is not None and time.monotonic() > deadline:
            break
        position = draw_position(limits, settings, rng)
        angles = random_angles(settings.rot, constrained, rng)
        spike = rng.integers(len(spikes.currents))
        key = tuple(np.round(position, 2))
        if screening and abs(cell_potentials(spikes, spike, position, angles, centres, probe, settings,
                                             around_peak).min()) < SCREEN_FRACTION * settings.min_amp:
            rejected += 1  # far too small at the contact centres: not worth averaging over the surfaces
            continue
        eap = cell_potentials(spikes, spike, position, angles, points, probe, settings)
        trough, peak = abs(eap.min()), abs(eap.max())
        if trough < settings.min_amp or (settings.check_eap_shape and peak > trough) or key in seen:
            rejected += 1
            continue
        if settings.drifting:
            final = draw_final_position(position, limits, settings, rng)
            if final is None:
                rejected += 1
                continue
            trajectory = position + np.linspace(0.0, 1.0, settings.drift_steps)[:, None] * (final - position)
            eaps = [eap] + [cell_potentials(spikes, spike, step, angles, points, probe, settings)
                            for step in trajectory[1:]]
            if settings.check_for_drift_amp and abs(eaps[-1].min()) < settings.min_amp:
                rejected += 1
                continue
            seen.add(key)
            templates.append(np.stack([recentre(step_eap, spikes.nbefore).T for step_eap in eaps]).astype(np.float32))
            locations.append(trajectory)
        else:
            seen.add(key)
            templates.append(recentre(eap, spikes.nbefore).T.astype(np.float32))
            locations.append(position)
        rotations.append(angles)
        spike_indices.append(spike)
    n_samples, n_contacts = spikes.currents.shape[2], probe.get_contact_count()
    drift_shape = (settings.drift_steps,) if settings.drifting else ()
    return dict(templates=np.asarray(templates, dtype=np.float32).reshape((-1,) + drift_shape + (n_samples, n_contacts)),
                locations=np.asarray(locations).reshape((-1,) + drift_shape + (3,)),
                rotations=np.asarray(rotations).reshape(-1, 3), spike_indices=np.asarray(spike_indices, dtype=np.int32),
                rejected=rejected)
