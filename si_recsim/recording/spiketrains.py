"""Spike trains: per-unit rates, Poisson or gamma renewal processes with a refractory period, and
added synchrony between spatially overlapping units.

The refractory period is built into the process (every inter-spike interval is the refractory
period plus a random interval), and the random part is rescaled so that each unit's mean rate is
exactly its target rate. So there are no refractory violations and no rate loss, unlike a
post-hoc deletion of violating spikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from si_recsim.errors import InputError
from si_recsim.params.recordings import SpikeTrainParams


@dataclass
class SpikeTrains:
    """Spike times of a set of units.

    Attributes
    ----------
    times : list of np.ndarray
        Sorted spike times in seconds, one float64 array per unit.
    rates : np.ndarray
        Target firing rate per unit in Hz.
    types : np.ndarray
        ``"E"`` or ``"I"`` per unit.
    t_start, t_stop : float
        Time span in seconds.
    """

    times: list
    rates: np.ndarray
    types: np.ndarray
    t_start: float
    t_stop: float

    @property
    def num_units(self) -> int:
        return len(self.times)


def draw_rates(section: SpikeTrainParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit rates (Hz) and types from the ``spiketrains`` parameters.

    Explicit ``rates``/``types`` are used as given; otherwise ``n_exc`` rates are drawn from
    N(``f_exc``, ``st_exc``) and ``n_inh`` from N(``f_inh``, ``st_inh``), clipped up to ``min_rate``.
    Excitatory units come first.
    """
    if section.rates is not None:
        rates = np.asarray(section.rates, dtype=float)
        types = np.asarray(section.types, dtype="U1")
        order = np.argsort(types != "E", kind="stable")
        return rates[order], types[order]
    n_exc, n_inh = int(section.n_exc), int(section.n_inh)
    rates = np.concatenate([
        rng.normal(section.f_exc, section.st_exc, n_exc),
        rng.normal(section.f_inh, section.st_inh, n_inh),
    ])
    rates = np.maximum(rates, section.min_rate)
    types = np.array(["E"] * n_exc + ["I"] * n_inh, dtype="U1")
    return rates, types


def renewal_spike_times(rate: float, t_start: float, t_stop: float, refractory: float, process: str,
                        gamma_shape: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary renewal process with dead time.

    Parameters
    ----------
    rate : float
        Mean rate in Hz.
    t_start, t_stop : float
        Interval in seconds.
    refractory : float
        Dead time in seconds added to every interval.
    process : "poisson" | "gamma"
        Distribution of the random part of the interval (exponential or gamma).
    gamma_shape : float
        Shape of the gamma distribution.
    rng : np.random.Generator

    Returns
    -------
    times : np.ndarray
        Sorted spike times in seconds within ``[t_start, t_stop)``.
    """
    mean_free = 1.0 / rate - refractory
    if mean_free <= 0:
        raise InputError(f"Rate {rate} Hz is impossible with a refractory period of {refractory * 1e3} ms.")
    # start before t_start so that the train is stationary (in equilibrium) inside the interval
    warmup = 10.0 / rate
    origin = t_start - warmup
    span = t_stop - origin
    chunks = []
    last = origin
    n_draw = int(span * rate * 1.1 + 5 * np.sqrt(span * rate) + 10)
    while last < t_stop:
        if process == "poisson":
            free = rng.exponential(mean_free, n_draw)
        else:
            free = rng.gamma(gamma_shape, mean_free / gamma_shape, n_draw)
        times = last + np.cumsum(free + refractory)
        chunks.append(times)
        last = times[-1]
    times = np.concatenate(chunks)
    return times[(times >= t_start) & (times < t_stop)]


def generate_spike_trains(section: SpikeTrainParams, seed: int) -> SpikeTrains:
    """Draw the spike trains described by a ``spiketrains`` parameter section.

    Parameters
    ----------
    section : SpikeTrainParams
        The ``spiketrains`` section.
    seed : int
        The spike-train seed.

    Returns
    -------
    spike_trains : SpikeTrains
    """
    rng = np.random.default_rng(seed)
    rates, types = draw_rates(section, rng)
    t_start = float(section.t_start)
    t_stop = t_start + float(section.duration)
    refractory = float(section.ref_per) / 1000.0
    unit_rngs = rng.spawn(len(rates))
    times = [
        renewal_spike_times(rate, t_start, t_stop, refractory, section.process, float(section.gamma_shape),
                            unit_rng)
        for rate, unit_rng in zip(rates, unit_rngs)
    ]
    return SpikeTrains(times=times, rates=rates, types=types, t_start=t_start, t_stop=t_stop)


def spike_trains_from_times(times: list, t_start: float, t_stop: float, types: list | None = None) -> SpikeTrains:
    """Wrap user-supplied spike times (seconds) as :class:`SpikeTrains`.

    Rates are the observed rates; ``types`` defaults to ``"E"`` for every unit.
    """
    duration = t_stop - t_start
    if duration <= 0:
        raise InputError(f"t_stop ({t_stop}) must be larger than t_start ({t_start}).")
    cleaned = []
    for index, unit_times in enumerate(times):
        unit_times = np.sort(np.asarray(unit_times, dtype=float))
        if unit_times.size and (unit_times[0] < t_start or unit_times[-1] >= t_stop):
            raise InputError(
                f"Spike train {index} has spikes outside [{t_start}, {t_stop}) s: crop it or change the duration."
            )
        cleaned.append(unit_times)
    rates = np.array([len(unit_times) / duration for unit_times in cleaned])
    types = np.asarray(types if types is not None else ["E"] * len(cleaned), dtype="U1")
    if len(types) != len(cleaned):
        raise InputError(f"Got {len(types)} types for {len(cleaned)} spike trains: give one 'E' or 'I' per train.")
    return SpikeTrains(times=cleaned, rates=rates, types=types, t_start=t_start, t_stop=t_stop)


def add_synchrony(spike_trains: SpikeTrains, pairs: np.ndarray, sync_rate: float, sync_jitter: float,
                  refractory: float, rng: np.random.Generator) -> SpikeTrains:
    """Make ``sync_rate`` of each spatially overlapping pair's spikes coincident, keeping firing rates.

    MEArec's measure (``compute_sync_rate``): the spikes of one unit with a spike of the other within
    ``sync_jitter``, over all the pair's spikes. So at 0.2, one in five of the pair's spikes is
    coincident. Spikes of the faster unit are moved next to spikes of the slower one (each slower
    spike gets at most one partner) until the target is met, so no spike is added or removed; a move
    that would break the refractory period is not made. The largest reachable rate is
    ``min(n_i, n_j) / (n_i + n_j)`` (0.5 for equal rates).

    Parameters
    ----------
    spike_trains : SpikeTrains
    pairs : np.ndarray
        (n_pairs, 2) unit indices.
    sync_rate : float
        Target fraction in [0, 1].
    sync_jitter : float
        Maximum time offset of a coincident spike, seconds.
    refractory : float
        Refractory period, seconds.
    rng : np.random.Generator

    Returns
    -------
    spike_trains : SpikeTrains
        A new object; the input is not modified.
    """
    times = [unit_times.copy() for unit_times in spike_trains.times]
    for pair in np.asarray(pairs, dtype=int).reshape(-1, 2):
        slower, faster = sorted(pair.tolist(), key=lambda unit: (times[unit].size, unit))
        anchors, moving = times[slower], times[faster]
        if anchors.size == 0 or moving.size == 0:
            continue
        target = min(int(round(sync_rate * (anchors.size + moving.size))), anchors.size)
        paired_anchors = _synchronous_mask(anchors, moving, sync_jitter)
        missing = target - int(paired_anchors.sum())
        if missing <= 0:
            continue
        candidates = rng.permutation(np.flatnonzero(~_synchronous_mask(moving, anchors, sync_jitter)))[:missing]
        free = rng.permutation(np.flatnonzero(~paired_anchors))[:candidates.size]
        candidates = candidates[:free.size]
        new_times = anchors[free] + rng.uniform(-sync_jitter, sync_jitter, size=free.size)
        kept = np.delete(moving, candidates)
        for new_time in np.sort(new_times):
            if spike_trains.t_start <= new_time < spike_trains.t_stop:
                kept = _insert_if_not_refractory(kept, new_time, refractory)
        # spikes that could not be moved go back where they were when that keeps the refractory period
        for old_time in np.sort(moving[candidates]):
            if kept.size >= moving.size:
                break
            kept = _insert_if_not_refractory(kept, old_time, refractory)
        times[faster] = kept
    return SpikeTrains(times=times, rates=spike_trains.rates, types=spike_trains.types,
                       t_start=spike_trains.t_start, t_stop=spike_trains.t_stop)


def _insert_if_not_refractory(times: np.ndarray, new_time: float, refractory: float) -> np.ndarray:
    """Insert ``new_time`` into sorted ``times`` unless a neighbour is closer than ``refractory``."""
    position = np.searchsorted(times, new_time)
    neighbours = times[max(position - 1, 0): position + 1]
    if neighbours.size and np.min(np.abs(neighbours - new_time)) < refractory:
        return times
    return np.insert(times, position, new_time)


def _synchronous_mask(times: np.ndarray, reference: np.ndarray, jitter: float) -> np.ndarray:
    """True for each of ``times`` that has a ``reference`` spike within ``jitter`` seconds."""
    position = np.clip(np.searchsorted(reference, times), 1, reference.size - 1) if reference.size > 1 else None
    if position is None:
        return np.abs(times - reference[0]) <= jitter
    nearest = np.minimum(np.abs(times - reference[position - 1]), np.abs(times - reference[position]))
    return nearest <= jitter
