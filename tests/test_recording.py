import json
import pickle

import numpy as np
import pytest
import scipy.signal
from helpers import injected_by_spikeinterface
from spikeinterface.core import load

from si_recsim import ParameterError, generate_ground_truth
from si_recsim.recording.filtering import butterworth
from si_recsim.recording.modulation import bursting_amplitudes

SHORT = {"spiketrains.duration": 4}


def _traces(recording, start=0, end=None):
    return recording.get_traces(start_frame=start, end_frame=end)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"recordings.bursting": True, "recordings.shape_mod": True, "recordings.modulation": "template"},
        {"recordings.noise_color": True, "recordings.noise_mode": "distance-correlated"},
        {"recordings.noise_mode": "far-neurons", "recordings.far_neurons_n": 40,
         "recordings.far_neurons_max_amp": 20},
        {"recordings.dtype": "int16", "recordings.adc_bit_depth": 12, "recordings.filter_mode": "lfilter"},
        {"recordings.filter": False, "recordings.fs": 30000},
    ],
    ids=["default", "bursting-shape", "colored-correlated", "far-neurons", "int16-lfilter", "unfiltered-30k"],
)
def test_samples_do_not_depend_on_chunking(overrides):
    recording, _ = generate_ground_truth(seed=11, **SHORT, **overrides)
    total = recording.get_num_samples()
    reference = _traces(recording)
    rng = np.random.default_rng(0)
    for _ in range(6):
        start, end = np.sort(rng.integers(0, total, 2))
        end = max(end, start + 1)
        assert np.array_equal(_traces(recording, start, end), reference[start:end])
    pieces = np.concatenate([_traces(recording, start, min(start + 7777, total)) for start in range(0, total, 7777)])
    assert np.array_equal(pieces, reference)
    fresh, _ = generate_ground_truth(seed=11, **SHORT, **overrides)
    assert np.array_equal(_traces(fresh, 5000, 9000), reference[5000:9000])


def test_returned_traces_are_the_callers_own():
    recording, _ = generate_ground_truth(seed=11, **SHORT)
    block = recording.get_block_size()
    reference = _traces(recording, 0, 3 * block).copy()
    windows = [(0, block), (block // 3, block // 2), (block // 2, 2 * block + 5), (block, 2 * block)]
    for start, end in windows * 2:  # the second round reads blocks cached by the first
        traces = _traces(recording, start, end)
        assert traces.flags.writeable
        traces[:] = 0
    for start, end in windows:
        assert np.array_equal(_traces(recording, start, end), reference[start:end])


@pytest.mark.slow
def test_parallel_save_equals_serial(tmp_path):
    recording, _ = generate_ground_truth(seed=4, **SHORT)
    serial = recording.save(folder=tmp_path / "serial", n_jobs=1, chunk_duration="0.3s", progress_bar=False)
    parallel = recording.save(folder=tmp_path / "parallel", n_jobs=2, chunk_duration="0.7s", progress_bar=False,
                              mp_context="spawn")
    threads = recording.save(folder=tmp_path / "threads", n_jobs=2, chunk_duration="0.45s", progress_bar=False,
                             pool_engine="thread")
    assert np.array_equal(_traces(serial), _traces(parallel))
    assert np.array_equal(_traces(serial), _traces(threads))
    assert np.array_equal(_traces(serial), _traces(recording))


def test_pickle_and_json_round_trip_keep_traces_and_ground_truth(tmp_path):
    recording, sorting = generate_ground_truth(seed=5, **SHORT)
    assert recording.check_serializability("json") and sorting.check_serializability("json")
    restored = pickle.loads(pickle.dumps(recording))
    assert np.array_equal(_traces(restored, 100, 40000), _traces(recording, 100, 40000))
    recording.dump_to_json(tmp_path / "recording.json")
    sorting.dump_to_json(tmp_path / "sorting.json")
    from_json = load(tmp_path / "recording.json")
    assert np.array_equal(_traces(from_json, 0, 5000), _traces(recording, 0, 5000))
    assert from_json.get_probe().get_contact_count() == recording.get_num_channels()
    sorting_back = pickle.loads(pickle.dumps(load(tmp_path / "sorting.json")))
    for key in ("gt_unit_locations", "main_channel_id", "cell_type", "firing_rate", "bursting", "template_id"):
        assert np.array_equal(sorting_back.get_property(key), sorting.get_property(key)), key
    for unit in sorting.unit_ids:
        assert np.array_equal(sorting_back.get_unit_spike_train(unit), sorting.get_unit_spike_train(unit))
    json.loads((tmp_path / "recording.json").read_text())


def test_ground_truth_properties_are_consistent():
    recording, sorting = generate_ground_truth(seed=6, **SHORT)
    assert sorting.get_num_units() == 10
    assert list(sorting.get_property("cell_type")) == ["E"] * 7 + ["I"] * 3
    locations = sorting.get_property("gt_unit_locations")
    assert locations.shape == (10, 3) and np.all(locations[:, 2] > 0)
    distances = np.linalg.norm(locations[:, None] - locations[None], axis=-1) + np.eye(10) * 1e9
    assert distances.min() >= 25
    amplitudes = recording.get_template_library().amplitudes()[sorting.get_property("template_id")]
    assert np.all((amplitudes > 50) & (amplitudes < 300))
    assert set(sorting.get_property("main_channel_id")) <= set(recording.channel_ids)
    assert recording.get_annotation("is_filtered") is True
    assert recording.get_probe().get_contact_count() == 32


def _noise_only(**overrides):
    """A recording whose only unit never fires: the traces are pure noise."""
    recording, _ = generate_ground_truth(spike_times=[[]], seed=8, **{"spiketrains.duration": 20}, **overrides)
    return recording


def test_filtered_white_noise_has_the_predicted_level():
    recording = _noise_only()
    traces = _traces(recording)
    fs = recording.sampling_frequency
    expected = 10 * np.sqrt(butterworth([300, 6000], 3, fs, "filtfilt").power_gain())
    assert traces.std(axis=0) == pytest.approx(np.full(32, expected), rel=0.03)
    unfiltered = _traces(_noise_only(**{"recordings.filter": False}))
    assert unfiltered.std() == pytest.approx(10, rel=0.01)
    assert abs(np.corrcoef(unfiltered[:, 0], unfiltered[:, 1])[0, 1]) < 0.02


@pytest.mark.parametrize("band", [[300, 6000], [100, 6000]])  # single precision, double precision (poles > 0.99)
def test_filter_equals_scipy_filtfilt_of_the_unfiltered_signal(band):
    common = {"spiketrains.duration": 3, "recordings.noise_level": 0, "recordings.modulation": "none",
              "recordings.filter_cutoff": band}
    filtered, _ = generate_ground_truth(seed=9, **common)
    raw, _ = generate_ground_truth(seed=9, **common, **{"recordings.filter": False})
    fs = raw.sampling_frequency
    sos = scipy.signal.butter(3, band, btype="bandpass", fs=fs, output="sos")
    expected = scipy.signal.sosfiltfilt(sos, _traces(raw).astype(float), axis=0)
    inside = slice(int(0.3 * fs), int(2.7 * fs))
    error = np.abs(_traces(filtered)[inside] - expected[inside]).max()
    assert error < 1e-4 * np.abs(expected).max()


def test_colored_noise_peaks_at_color_peak():
    recording = _noise_only(**{"recordings.filter": False, "recordings.noise_color": True,
                               "recordings.color_peak": 1000, "recordings.color_q": 2,
                               "recordings.color_noise_floor": 0.2})
    traces = _traces(recording)
    assert traces.std() == pytest.approx(10, rel=0.03)
    frequencies, power = scipy.signal.welch(traces[:, 0], fs=recording.sampling_frequency, nperseg=4096)
    assert frequencies[np.argmax(power)] == pytest.approx(1000, rel=0.1)
    assert power[np.argmax(power)] > 10 * np.median(power[frequencies > 8000])


def test_distance_correlated_noise_halves_at_half_distance():
    recording = _noise_only(**{"recordings.filter": False, "recordings.noise_mode": "distance-correlated",
                               "recordings.noise_half_distance": 30})
    traces = _traces(recording)
    locations = recording.get_channel_locations()
    correlation = np.corrcoef(traces.T)
    distances = np.linalg.norm(locations[:, None] - locations[None], axis=-1)
    pairs = np.triu_indices(32, 1)
    expected = 2.0 ** (-distances[pairs] / 30)
    assert np.abs(correlation[pairs] - expected).max() < 0.03
    assert traces.std(axis=0) == pytest.approx(np.full(32, 10), rel=0.03)


def test_far_neuron_noise_reaches_the_noise_level():
    recording = _noise_only(**{"recordings.filter": False, "recordings.noise_mode": "far-neurons",
                               "recordings.far_neurons_n": 100})
    traces = _traces(recording)
    assert np.abs(traces.mean(axis=0)).max() < 1.0
    assert np.median(traces.std(axis=0)) == pytest.approx(10, rel=0.15)


def test_far_neurons_need_enough_small_templates(mearec_library_path):
    from si_recsim import ParameterError

    with pytest.raises(ParameterError, match="far_neurons_n"):
        generate_ground_truth(template_library=mearec_library_path, seed=1,
                              **{"recordings.noise_mode": "far-neurons", **SHORT})


def test_bursting_modulation_stays_aligned_with_spikes():
    recording, sorting = generate_ground_truth(
        seed=12, **{"spiketrains.duration": 6, "spiketrains.rates": [40.0, 25.0], "spiketrains.types": ["E", "I"],
                    "recordings.noise_level": 0, "recordings.filter": False, "recordings.bursting": True,
                    "recordings.sdrand": 0.0, "recordings.modulation": "template",
                    "recordings.block_duration": 0.25, "templates.min_dist": 0})
    burst = recording._engine.injector.modulation.burst_amplitudes
    assert all(amplitudes is not None and amplitudes.min() < 0.8 for amplitudes in burst)
    expected = injected_by_spikeinterface(recording)
    assert np.abs(_traces(recording) - expected).max() < 1e-3


def test_bursting_amplitude_law():
    amplitudes = bursting_amplitudes(np.array([0.0, 10.0, 20.0, 500.0, 505.0]), 0.2, 10, 100.0)
    assert amplitudes[0] == 1 and amplitudes[3] == 1
    assert amplitudes[1] == pytest.approx((10 / 100) ** 0.2, rel=1e-6)
    assert amplitudes[2] == pytest.approx((10 / 2 / 100) ** 0.2, rel=1e-6)
    assert amplitudes[4] == pytest.approx((5 / 100) ** 0.2, rel=1e-6)
    limited = bursting_amplitudes(np.arange(5) * 5.0, 0.2, 2, 100.0)
    assert list(limited == 1) == [True, False, True, False, True]


def test_shape_modulation_widens_bursting_spikes():
    from scipy.interpolate import CubicSpline

    from si_recsim.recording.template_processing import TemplateStretcher, stretch_positions

    recording, _ = generate_ground_truth(seed=3, **SHORT)
    copies = recording._engine.injector.templates[0]
    nbefore = recording._engine.injector.nbefore
    stretcher = TemplateStretcher(copies, nbefore, 30)
    n_jitters = copies.shape[1]
    jitters = np.array([0, n_jitters - 1, 0])
    stretched = stretcher.stretch(np.zeros(3, dtype=int), jitters, np.array([0.6, 0.6, 1.0]))

    def width(waveform):  # (n_samples, n_channels)
        channel = np.argmin(waveform.min(axis=0))
        trace = waveform[:, channel]
        return np.sum(trace < trace.min() / 2)

    for waveform, jitter in zip(stretched[:2], jitters[:2]):
        template = copies[0, jitter]
        assert waveform.min() == pytest.approx(template.min(), rel=1e-5)
        assert width(waveform) > 1.3 * width(template)
    # the cubic spline of the copy at the warped positions, as scipy evaluates it
    reference = CubicSpline(np.arange(copies.shape[2]), copies[0, 0], axis=0)(
        stretch_positions(copies.shape[2], nbefore, np.array([0.6]), 30)[0])
    reference *= copies[0, 0].min() / reference.min()
    np.testing.assert_allclose(stretched[0], reference, rtol=0, atol=1e-5 * np.abs(reference).max())
    # modulation 1 interpolates at the knots: the copy itself
    np.testing.assert_allclose(stretched[2], copies[0, 0], rtol=0, atol=1e-6 * np.abs(copies[0, 0]).max())


@pytest.mark.parametrize("mode", ["template", "electrode"])
def test_modulation_spread_matches_sdrand(mode):
    recording, _ = generate_ground_truth(seed=2, **SHORT, **{"recordings.modulation": mode, "recordings.sdrand": 0.1})
    injector = recording._engine.injector
    modulation = injector.modulation
    per_unit = [modulation.factors(unit, 0, len(frames)) for unit, frames in enumerate(injector.frames)]
    for unit, unit_factors in enumerate(per_unit):
        assert unit_factors.shape[1] == (len(injector.channels[unit]) if mode == "electrode" else 1)
    factors = np.concatenate([unit_factors.ravel() for unit_factors in per_unit])
    assert factors.mean() == pytest.approx(1.0, abs=4 * 0.1 / np.sqrt(factors.size))  # 4 standard errors
    assert factors.std() == pytest.approx(0.1, rel=0.1)
    # the same spikes read in a different order give the same factors
    assert np.array_equal(modulation.factors(0, 5, 9), modulation.factors(0, 0, 20)[5:9])


def test_int16_output_with_adc_gain():
    common = dict(seed=14, **SHORT)
    as_float, _ = generate_ground_truth(**common)
    as_int, _ = generate_ground_truth(**common, **{"recordings.dtype": "int16", "recordings.adc_bit_depth": 12})
    gain = as_int.get_channel_gains()[0]
    assert as_int.get_dtype() == np.int16
    # MEArec's rule: the 12-bit range spans the largest template peak plus 3 noise s.d. on each side
    peak = np.abs(as_int.get_unit_templates().templates_array).max()
    assert gain == pytest.approx(2 * (peak + 3 * 10.0) / 2**12, rel=1e-6)
    in_uV = as_int.get_traces(start_frame=0, end_frame=20000, return_in_uV=True)
    assert np.abs(in_uV - _traces(as_float, 0, 20000)).max() <= gain / 2 + 1e-3
    assert np.mean(np.abs(_traces(as_int)) <= 2**11) > 0.9999  # beyond only where spikes overlap


def test_explicit_template_ids_and_resampling():
    # in the default bank library of the default probe, templates 0-89 are interneurons, 90+ pyramidal cells
    recording, sorting = generate_ground_truth(seed=1, **SHORT, **{
        "templates.template_ids": [3, 95, 8], "spiketrains.rates": [5.0, 9.0, 7.0],
        "spiketrains.types": ["E", "I", "I"], "recordings.fs": 24000})
    assert list(sorting.get_property("template_id")) == [3, 95, 8]
    # each template gets a spike train of its cell model's type: the E train (5 Hz) goes to the pyramidal cell
    assert list(sorting.get_property("cell_type")) == ["I", "E", "I"]
    assert list(sorting.get_property("firing_rate")) == [9.0, 5.0, 7.0]
    assert recording.sampling_frequency == 24000 and recording.get_num_samples() == 4 * 24000
    assert sorting.sampling_frequency == 24000
    with pytest.raises(ParameterError, match="2 inhibitory"):
        generate_ground_truth(seed=1, **SHORT, **{"templates.template_ids": [3, 8, 95], "spiketrains.n_exc": 2,
                                                  "spiketrains.n_inh": 1})


def test_channel_sparsity_drops_only_tiny_contributions():
    # template modulation: one factor per spike, so both recordings draw the same factors
    common = dict(seed=15, **{"spiketrains.duration": 2, "recordings.noise_level": 0, "recordings.filter": False,
                              "recordings.modulation": "template"})
    dense, dense_sorting = generate_ground_truth(**common, **{"templates.sparsity_threshold": 0})
    sparse, _ = generate_ground_truth(**common, **{"templates.sparsity_threshold": 0.05})
    assert all(len(channels) == 32 for channels in dense._engine.injector.channels)
    assert any(len(channels) < 32 for channels in sparse._engine.injector.channels)
    peak = dense_sorting.get_property("template_peak_uV").max()
    difference = np.abs(_traces(dense) - _traces(sparse)).max()
    assert 0 < difference <= 0.05 * peak * 1.2 * 3  # at most three overlapping spikes, modulation within 20 %


def test_run_sorter_accepts_the_lazy_recording_without_saving(tmp_path):
    from spikeinterface.sorters.internal.simplesorter import SimpleSorter

    recording, _ = generate_ground_truth(seed=16, **SHORT)
    # run_sorter's first step: it dumps the recording into the sorter folder (and refuses what it cannot dump)
    folder = SimpleSorter.initialize_folder(recording, tmp_path / "sorter", verbose=False,
                                            remove_existing_folder=True)
    dumped = sorted(path.name for path in folder.iterdir())
    assert "spikeinterface_recording.json" in dumped
    reloaded = load(folder / "spikeinterface_recording.json", base_folder=folder)
    assert np.array_equal(_traces(reloaded, 0, 10000), _traces(recording, 0, 10000))


def test_distance_correlation_is_a_valid_covariance_on_dense_grids():
    from si_recsim.probes import contact_positions_3d, probe_from_name
    from si_recsim.recording.noise import distance_correlation_factor

    # MEArec's 0.5 * half_distance / d kernel is not positive definite on this 15 um grid
    locations = contact_positions_3d(probe_from_name("SqMEA-10-15"))
    factor = distance_correlation_factor(locations, 30.0)
    covariance = factor.astype(float) @ factor.T.astype(float)
    distances = np.linalg.norm(locations[:, None] - locations[None], axis=-1)
    assert np.allclose(covariance, 2.0 ** (-distances / 30.0), atol=1e-5)
    mearec_kernel = np.where(distances > 0, 0.5 * 30.0 / np.maximum(distances, 1e-9), 1.0)
    assert np.linalg.eigvalsh(mearec_kernel).min() < 0
