"""Drift: which position of its drifting template each spike of a unit uses, and the ground truth.

A drift signal ``s(t)`` (µm along the drift direction, sampled at ``drift_fs``) is built from the
``recordings`` parameters (MEArec's keys):

* ``slow``: a triangle (or sine) of peak-to-peak amplitude ``slow_drift_amplitude`` (default: the
  shortest trajectory of the units) travelled at ``slow_drift_velocity`` µm/min, starting at 0
  (the middle of the trajectories), going down first;
* ``fast``: every ``fast_drift_period`` s a jump of ``fast_drift_min_jump``-``fast_drift_max_jump``
  µm with random sign (turned back when it would leave the trajectories);
* ``slow+fast``: their sum;
* or an external signal (``external_drift_times``, ``external_drift_um``);
* or a SpikeInterface ``Motion`` (``motion``, a folder written by ``Motion.save``): each unit gets
  its own signal, the motion's displacement at the unit's depth along the motion's direction
  (linearly interpolated in time and depth, as ``Motion.get_displacement_at_time_and_depth``
  does), so units move with the tissue the motion describes.

The signal is 0 before ``t_start_drift`` and held after ``t_end_drift``. Each unit scales it by a
factor (1 for rigid drift; for non-rigid drift a linear gradient or a step along
``preferred_dir``; 0 for units that do not drift, see ``n_drifting``). A spike at time ``t`` of a
unit with trajectory length ``L`` and ``D`` steps uses step ``round(D // 2 + f s(t) (D - 1) / L)``,
clipped to the trajectory. The signal is looked up at the spike's own time (MEArec's slow mode
with ``t_start_drift > 0`` looked it up on a shifted time axis) and indices are clipped, never
wrapped (MEArec's unsigned wrap sent spikes to the opposite end).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError
from si_recsim.params.common import ParameterError
from si_recsim.params.recordings import RecordingSectionParams
from si_recsim.probes import mearec_to_si_positions


@dataclass
class DriftModel:
    """The drift of a recording.

    Attributes
    ----------
    times : np.ndarray
        Sample times of the drift signal, s (absolute, like spike times).
    signal_um : np.ndarray
        Displacement along the drift direction at ``times``, µm: (n_times,) shared by the units, or
        (n_units, n_times) one per unit (a ``Motion``).
    factors : np.ndarray
        Per-unit scale of the signal (0: the unit does not drift).
    trajectories : np.ndarray
        (n_units, n_steps, 3) positions of each unit's drifting template, µm.
    interpolate : bool, default: False
        Between samples the signal is interpolated linearly (a ``Motion``), else held (MEArec's).
    """

    times: np.ndarray
    signal_um: np.ndarray
    factors: np.ndarray
    trajectories: np.ndarray
    interpolate: bool = False

    @property
    def n_steps(self) -> int:
        return self.trajectories.shape[1]

    def step_indices(self, unit: int, times: np.ndarray) -> np.ndarray:
        """Drift step used at ``times`` (s) by ``unit`` (int16)."""
        signal = self.signal_um[unit] if self.signal_um.ndim == 2 else self.signal_um
        if self.interpolate:
            values = np.interp(times, self.times, signal)
        else:
            values = signal[np.clip(np.searchsorted(self.times, times, side="right") - 1, 0, len(self.times) - 1)]
        length = np.linalg.norm(self.trajectories[unit, -1] - self.trajectories[unit, 0])
        steps = self.factors[unit] * values * (self.n_steps - 1) / max(length, 1e-12)
        return np.clip(np.rint(self.n_steps // 2 + steps), 0, self.n_steps - 1).astype(np.int16)

    def unit_positions(self, times: np.ndarray) -> np.ndarray:
        """(n_units, n_times, 3) positions of every unit at ``times`` (s), as used in the traces."""
        return np.stack([self.trajectories[unit, self.step_indices(unit, np.asarray(times))]
                         for unit in range(len(self.factors))])


def preferred_direction(section: RecordingSectionParams) -> np.ndarray:
    """``preferred_dir`` (MEArec's frame) as a unit vector in si_recsim's frame."""
    direction = mearec_to_si_positions(np.asarray(section.preferred_dir, dtype=float))
    return direction / np.linalg.norm(direction)


def _slow_signal(times: np.ndarray, amplitude: float, velocity_um_per_min: float, waveform: str) -> np.ndarray:
    period = 2.0 * amplitude / (velocity_um_per_min / 60.0)
    phase = np.mod(times / period, 1.0)
    if waveform == "sine":
        return -amplitude / 2.0 * np.sin(2.0 * np.pi * phase)
    # triangle: 0 → -A/2 at a quarter period → 0 → +A/2 → 0
    return amplitude / 2.0 * np.where(phase < 0.25, -4 * phase, np.where(phase < 0.75, 4 * phase - 2, 4 - 4 * phase))


def _fast_signal(times: np.ndarray, section: RecordingSectionParams, limit: float, rng: np.random.Generator) -> np.ndarray:
    period = float(section.fast_drift_period)
    jump_times = np.arange(period, times[-1] + period, period)
    level, levels = 0.0, []
    for _ in jump_times:
        jump = rng.uniform(section.fast_drift_min_jump, section.fast_drift_max_jump) * rng.choice([-1.0, 1.0])
        if abs(level + jump) > limit:
            jump = -jump
        level = float(np.clip(level + jump, -limit, limit))
        levels.append(level)
    signal = np.zeros_like(times)
    for jump_time, value in zip(jump_times, levels):
        signal[times >= jump_time] = value
    return signal


def unit_factors(section: RecordingSectionParams, middle_locations: np.ndarray, drifting: np.ndarray) -> np.ndarray:
    """Per-unit scale of the drift signal (rigid or non-rigid; 0 for units that do not drift)."""
    if section.drift_mode_probe == "rigid":
        factors = np.ones(len(middle_locations))
    else:
        depth = middle_locations @ preferred_direction(section)
        if section.non_rigid_gradient_mode == "linear":
            span = np.ptp(depth)
            normalised = (depth - depth.min()) / span if span > 0 else np.zeros_like(depth)
            if section.non_rigid_linear_direction == 1:
                normalised = 1.0 - normalised
            low = float(section.non_rigid_linear_min_factor)
            factors = low + (1.0 - low) * normalised
        else:
            boundary = section.non_rigid_step_depth_boundary
            boundary = float(np.mean(depth)) if boundary is None else float(boundary)
            above, below = section.non_rigid_step_factors or (1.0, 0.0)
            factors = np.where(depth >= boundary, above, below).astype(float)
    return factors * drifting


def build_drift(section: RecordingSectionParams, trajectories: np.ndarray, t_start: float, duration: float,
                rng: np.random.Generator, motion=None) -> DriftModel:
    """The drift of a recording from its ``recordings`` parameters.

    Parameters
    ----------
    section : RecordingSectionParams
        The ``recordings`` parameters.
    trajectories : np.ndarray
        (n_units, n_steps, 3) template positions of the selected units, µm.
    t_start, duration : float
        s.
    rng : np.random.Generator
        Drift randomness (fast jumps, drifting units).
    motion : Motion | None, default: None
        The ``Motion`` of ``section.motion`` (:func:`load_motion`): each unit follows it.
    """
    n_units = len(trajectories)
    lengths = np.linalg.norm(trajectories[:, -1] - trajectories[:, 0], axis=1)
    limit = float(lengths.min()) / 2.0
    drifting = np.zeros(n_units)
    if section.n_drifting is None:
        drifting[:] = 1.0
    else:
        if section.n_drifting > n_units:
            raise ParameterError(f"recordings.n_drifting ({section.n_drifting}) exceeds the {n_units} units.")
        drifting[rng.choice(n_units, int(section.n_drifting), replace=False)] = 1.0
    middle = trajectories[:, trajectories.shape[1] // 2]
    if motion is not None:
        times = np.asarray(motion.temporal_bins_s[0], dtype=float)
        signal = motion.get_displacement_at_time_and_depth(times, middle[:, motion.dim], grid=True)
        return DriftModel(times=times, signal_um=signal, factors=drifting, trajectories=trajectories, interpolate=True)
    if section.external_drift_times is not None:
        times = np.asarray(section.external_drift_times, dtype=float)
        signal = np.asarray(section.external_drift_um, dtype=float)
    else:
        times = t_start + np.arange(0.0, duration + 1.0 / section.drift_fs, 1.0 / section.drift_fs)
        start = t_start + float(section.t_start_drift)
        end = t_start + (duration if section.t_end_drift is None else float(section.t_end_drift))
        local = np.clip(times, start, end) - start
        signal = np.zeros_like(times)
        if "slow" in section.drift_mode_speed:
            amplitude = min(float(section.slow_drift_amplitude or 2 * limit), 2 * limit)
            signal += _slow_signal(local, amplitude, float(section.slow_drift_velocity),
                                   "sine" if section.slow_drift_waveform == "sine" else "triangle")
        if "fast" in section.drift_mode_speed:
            signal += _fast_signal(local, section, limit, rng)
        signal = np.clip(signal, -limit, limit)
    return DriftModel(times=times, signal_um=signal, factors=unit_factors(section, middle, drifting),
                      trajectories=trajectories)


def load_motion(folder: str | Path):
    """A SpikeInterface ``Motion`` of one segment from a folder written by ``Motion.save``."""
    from spikeinterface.core.motion import Motion

    try:
        motion = Motion.load(folder)
    except Exception as error:  # noqa: BLE001 - SpikeInterface raises what numpy/json raise on a foreign folder
        raise InputError(f"{folder} is not a SpikeInterface Motion folder (write one with motion.save(folder)): "
                         f"{error}") from None
    if motion.num_segments != 1:
        raise InputError(f"The motion in {folder} has {motion.num_segments} segments; a recording has one: "
                         "save the segment's motion alone.")
    return motion


def motion_direction(motion) -> np.ndarray:
    """The unit vector of a ``Motion``'s direction in si_recsim's frame (SpikeInterface's: x and y in
    the probe plane)."""
    return np.eye(3)[motion.dim]


def motion_extent_um(motion) -> float:
    """The largest absolute displacement of a ``Motion`` (µm): every unit's displacement lies within it."""
    return float(max(np.max(np.abs(displacement)) for displacement in motion.displacement))


def ground_truth_positions(recording, times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every unit over time, exactly as used in the traces.

    Parameters
    ----------
    recording : SimulatedRecording
    times : np.ndarray | None, default: None
        Times in s (the recording's time base); None = the drift signal's own sampling.

    Returns
    -------
    times : np.ndarray
    positions : np.ndarray
        (n_units, n_times, 3) µm; static units keep their location.
    """
    drift = recording.get_drift_model()
    if drift is None:
        times = np.asarray([recording.get_time_info()["t_start"] or 0.0] if times is None else times, dtype=float)
        return times, np.repeat(recording.get_unit_locations()[:, None, :], len(times), axis=1)
    times = drift.times if times is None else np.asarray(times, dtype=float)
    return times, drift.unit_positions(times)


def ground_truth_motion(recording):
    """The drift of a :class:`~si_recsim.recording.extractors.SimulatedRecording` as a SpikeInterface
    ``Motion`` (direction y).

    One spatial bin per drifting unit, at its middle depth, holding that unit's vertical
    displacement over time (rigid drift: every bin moves alike).
    """
    drift = recording.get_drift_model()
    if drift is None:
        raise InputError("This recording does not drift (recordings.drifting is false).")
    moving = np.flatnonzero(drift.factors != 0)
    return motion_from_positions(drift.times, drift.unit_positions(drift.times)[moving],
                                 drift.trajectories[moving, drift.n_steps // 2])


def motion_from_positions(times: np.ndarray, positions: np.ndarray, middle: np.ndarray):
    """A SpikeInterface ``Motion`` (direction y) from units' positions over time.

    Parameters
    ----------
    times : np.ndarray
        (n_times,) s.
    positions : np.ndarray
        (n_units, n_times, 3) µm, drifting units only.
    middle : np.ndarray
        (n_units, 3) each unit's reference position: one spatial bin per unit at its depth, holding
        its displacement from there.
    """
    from spikeinterface.core.motion import Motion

    order = np.argsort(middle[:, 1], kind="stable")
    depths, unique = np.unique(middle[order, 1], return_index=True)
    displacement = (positions[order, :, 1] - middle[order, 1][:, None])[unique].T
    return Motion(displacement=[displacement], temporal_bins_s=[np.asarray(times, dtype=float)],
                  spatial_bins_um=depths, direction="y")
