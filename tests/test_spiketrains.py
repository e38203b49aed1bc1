import numpy as np
import pytest

from si_recsim.params.recordings import build_params
from si_recsim.recording.spiketrains import add_synchrony, generate_spike_trains, spike_trains_from_times


def _section(**values):
    return build_params(None, **{f"spiketrains.{key}": value for key, value in values.items()}).spiketrains


def test_rates_types_and_no_refractory_violations():
    section = _section(duration=200, n_exc=4, n_inh=2)
    trains = generate_spike_trains(section, seed=1)
    assert list(trains.types) == ["E"] * 4 + ["I"] * 2
    for rate, times in zip(trains.rates, trains.times):
        observed = len(times) / 200
        assert abs(observed - rate) < 4 * np.sqrt(rate / 200) + 0.05
        assert np.all(np.diff(times) >= section.ref_per / 1000 - 1e-12)
        assert times.min() >= 0 and times.max() < 200
    assert np.all(trains.rates >= section.min_rate)


def test_gamma_process_is_more_regular_than_poisson():
    common = dict(duration=300, rates=[10.0], types=["E"], ref_per=2)
    poisson = generate_spike_trains(_section(process="poisson", **common), seed=2).times[0]
    gamma = generate_spike_trains(_section(process="gamma", gamma_shape=4, **common), seed=2).times[0]

    def cv(times):
        intervals = np.diff(times)
        return intervals.std() / intervals.mean()

    # interval = refractory + free part with coefficient of variation 1 (poisson) or 1/sqrt(k) (gamma)
    free_fraction = 1 - 10 * 0.002
    assert cv(poisson) == pytest.approx(free_fraction, rel=0.08)
    assert cv(gamma) == pytest.approx(free_fraction / 2, rel=0.08)


def test_explicit_rates_are_reordered_excitatory_first():
    trains = generate_spike_trains(_section(rates=[20.0, 3.0, 8.0], types=["I", "E", "E"], duration=50), seed=0)
    assert list(trains.types) == ["E", "E", "I"]
    assert list(trains.rates) == [3.0, 8.0, 20.0]


def test_same_seed_same_trains_other_seed_other_trains():
    section = _section(duration=20)
    first, second = generate_spike_trains(section, 5), generate_spike_trains(section, 5)
    other = generate_spike_trains(section, 6)
    assert all(np.array_equal(a, b) for a, b in zip(first.times, second.times))
    assert not all(np.array_equal(a, b) for a, b in zip(first.times, other.times))


@pytest.mark.parametrize("rates, sync_rate", [([5.0, 20.0], 0.2), ([10.0, 10.0], 0.3), ([20.0, 5.0], 0.1)])
def test_synchrony_means_what_mearec_measures_and_keeps_rates(rates, sync_rate):
    from MEArec.tools import compute_sync_rate  # the peer's own measure of a pair's synchrony

    section = _section(duration=100, rates=rates, types=["E", "E"])
    trains = generate_spike_trains(section, 0)
    synced = add_synchrony(trains, np.array([[0, 1]]), sync_rate, 0.001, 0.002, np.random.default_rng(0))
    measured = compute_sync_rate(synced.times[0], synced.times[1], 0.001)
    assert abs(measured - sync_rate) < 0.01, measured
    for before, after in zip(trains.times, synced.times):  # spikes moved, none added or removed
        assert abs(len(after) - len(before)) <= 0.01 * len(before)
        assert np.all(np.diff(after) >= 0.002 - 1e-12)


def test_user_spike_trains_are_checked():
    with pytest.raises(ValueError, match="outside"):
        spike_trains_from_times([[0.5, 3.0]], 0.0, 2.0)
    trains = spike_trains_from_times([[0.1, 0.5], [1.0]], 0.0, 2.0, ["E", "I"])
    assert list(trains.rates) == [1.0, 0.5]
