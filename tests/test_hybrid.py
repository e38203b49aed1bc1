"""Hybrid ground truth: units injected into a parent recording whose content is known (SpikeInterface's
noise generator), checked against scipy's resampling and filtering of the library templates, the
parent's probe geometry, SpikeInterface's Motion interpolation and its readers."""

import numpy as np
import pytest
import scipy.signal
import spikeinterface.core as sc
import spikeinterface.preprocessing as sp
from probeinterface import generate_multi_columns_probe
from spikeinterface.core.motion import Motion
from spikeinterface.generation import NoiseGeneratorRecording

from si_recsim import (
    HybridRecording,
    generate_ground_truth,
    generate_hybrid_ground_truth,
    ground_truth_motion,
    ground_truth_positions,
    load_ground_truth,
    save_ground_truth,
)
from si_recsim.cli import main
from si_recsim.errors import InputError

FS = 30000.0
GAIN = 0.195  # uV per count, an Intan-like int16 recording
UNITS = {"spiketrains.n_exc": 4, "spiketrains.n_inh": 2, "recordings.modulation": "none"}


def _probe(n_per_column: int = 16):
    """A two-column probe (25 um pitch) wired in a shuffled order: channel i is not contact i."""
    probe = generate_multi_columns_probe(num_columns=2, num_contact_per_column=n_per_column, xpitch=30, ypitch=25,
                                         contact_shapes="square", contact_shape_params={"width": 12})
    probe.set_device_channel_indices(np.random.default_rng(0).permutation(2 * n_per_column))
    return probe


def _parent(duration: float = 10.0, int16: bool = True, n_per_column: int = 16):
    """Noise of 10 uV on a shuffled two-column probe: int16 counts with gain 0.195 uV, or float32 uV."""
    noise = NoiseGeneratorRecording(num_channels=2 * n_per_column, sampling_frequency=FS, durations=[duration],
                                    noise_levels=10.0, dtype="float32", seed=1, strategy="on_the_fly")
    noise.set_probe(_probe(n_per_column))
    if not int16:
        return noise
    counts = sp.scale(noise, gain=1.0 / GAIN, dtype="int16")
    counts.set_channel_gains(GAIN)
    counts.set_channel_offsets(0.0)
    return counts


def _residual_uV(hybrid, parent, start=0, end=None):
    end = hybrid.get_num_samples() if end is None else end
    return (hybrid.get_traces(start_frame=start, end_frame=end, return_in_uV=True).astype(float)
            - parent.get_traces(start_frame=start, end_frame=end, return_in_uV=True).astype(float))


def _mean_spike(residual, frames, before, after):
    frames = frames[(frames >= before) & (frames < len(residual) - after)]
    return np.mean([residual[frame - before: frame + after] for frame in frames], axis=0)


def _library_waveforms(hybrid, sorting, band=None, order=5):
    """Each unit's library template resampled to the parent's rate by scipy (and filtered forward-backward
    by scipy's Butterworth when ``band`` is given); with the sample of the spike time."""
    library = hybrid.get_template_library().static()
    ids = np.asarray(sorting.get_property("template_id"), dtype=int)
    fs_library = library.sampling_frequency
    up, down = int(FS), int(fs_library)
    divisor = np.gcd(up, down)
    pad = int(0.01 * fs_library)
    padded = np.pad(library.templates[ids].astype(float), ((0, 0), (pad, pad), (0, 0)))
    waveforms = scipy.signal.resample_poly(padded, up // divisor, down // divisor, axis=1)
    if band is not None:
        sos = scipy.signal.butter(order, band, btype="bandpass", fs=FS, output="sos")
        waveforms = scipy.signal.sosfiltfilt(sos, waveforms, axis=1)
    return waveforms, int(round((library.nbefore + pad) * FS / fs_library))


def _best_correlation(measured, reference, max_lag=3):
    """Largest correlation of two equally long 1-D waveforms over small lags, and that lag."""
    scores = {lag: np.corrcoef(np.roll(measured, lag), reference)[0, 1] for lag in range(-max_lag, max_lag + 1)}
    lag = max(scores, key=scores.get)
    return scores[lag], lag


def _units_match_their_library_templates(hybrid, parent, sorting, band=None):
    residual = _residual_uV(hybrid, parent)
    waveforms, spike_sample = _library_waveforms(hybrid, sorting, band)
    before, after = 30, 60
    correlations, ratios = [], []
    for unit, unit_id in enumerate(sorting.unit_ids):
        reference = waveforms[unit, spike_sample - before: spike_sample + after]
        main = int(np.argmax(np.abs(reference).max(axis=0)))
        measured = _mean_spike(residual, sorting.get_unit_spike_train(unit_id), before, after)
        correlation, _ = _best_correlation(measured[:, main], reference[:, main])
        correlations.append(correlation)
        ratios.append(np.abs(measured[:, main]).max() / np.abs(reference[:, main]).max())
    return np.array(correlations), np.array(ratios)


def test_units_are_added_to_an_int16_parent_in_its_counts_and_on_its_own_channels():
    parent = _parent()
    hybrid, sorting = generate_hybrid_ground_truth(parent, seed=4, **UNITS)
    assert isinstance(hybrid, HybridRecording)
    assert hybrid.get_dtype() == np.int16 and np.allclose(hybrid.get_channel_gains(), GAIN)
    assert list(hybrid.channel_ids) == list(parent.channel_ids)
    params = hybrid.get_annotation("si_recsim_params")["recordings"]
    assert params["filter"] is False and params["fs"] == FS  # a raw parent gets raw units
    assert params["noise_level"] == pytest.approx(10.0, rel=0.1)  # the parent's noise, measured
    # the units are the library templates (scipy's resampling), unfiltered, at their amplitude
    correlations, ratios = _units_match_their_library_templates(hybrid, parent, sorting)
    assert correlations.min() > 0.98
    assert ratios == pytest.approx(np.ones(len(ratios)), abs=0.12)
    # each unit is largest on the parent's channel nearest to it: the shuffled wiring is followed
    residual = _residual_uV(hybrid, parent)
    channel_xy = parent.get_channel_locations()
    for unit_id, location in zip(sorting.unit_ids, sorting.get_property("gt_unit_locations")):
        peaks = np.abs(_mean_spike(residual, sorting.get_unit_spike_train(unit_id), 30, 60)).max(axis=0)
        assert np.linalg.norm(channel_xy[np.argmax(peaks)] - location[:2]) < 45.0
    # away from the spikes the parent is untouched; near them, rounding to counts loses at most half a count
    frames = np.concatenate([sorting.get_unit_spike_train(unit_id) for unit_id in sorting.unit_ids])
    quiet = np.ones(len(residual), dtype=bool)
    for offset in range(-int(0.0055 * FS), int(0.0085 * FS)):  # the templates with their 3 ms padding on each side
        quiet[np.clip(frames + offset, 0, len(residual) - 1)] = False
    assert quiet.sum() > 0.3 * len(residual) and np.all(residual[quiet] == 0)
    injected = hybrid._engine.get_traces(0, hybrid.get_num_samples())
    assert np.max(np.abs(residual - injected)) <= GAIN / 2 + 1e-4


def test_a_filtered_parent_gets_units_through_its_own_filter():
    raw = _parent(int16=False)
    filtered = sp.bandpass_filter(raw, freq_min=400.0, freq_max=5000.0)  # order 5, forward-backward
    hybrid, sorting = generate_hybrid_ground_truth(filtered, seed=4, **UNITS)
    params = hybrid.get_annotation("si_recsim_params")["recordings"]
    assert params["filter"] and params["filter_cutoff"] == [400.0, 5000.0]
    assert (params["filter_order"], params["filter_mode"]) == (5, "filtfilt")
    assert hybrid.is_filtered() and hybrid.get_dtype() == np.float32
    correlations, ratios = _units_match_their_library_templates(hybrid, filtered, sorting, band=[400.0, 5000.0])
    assert correlations.min() > 0.98
    assert ratios == pytest.approx(np.ones(len(ratios)), abs=0.12)
    # the unfiltered templates are not what was injected: their slow parts are gone
    raw_correlations, _ = _units_match_their_library_templates(hybrid, filtered, sorting)
    assert np.mean(raw_correlations) < np.mean(correlations) - 0.05


def test_hybrid_samples_do_not_depend_on_windows_jobs_or_serialisation(tmp_path):
    parent = _parent(duration=6.0)
    hybrid, sorting = generate_hybrid_ground_truth(parent, seed=9, **UNITS)
    whole = hybrid.get_traces()
    pieces = np.concatenate([hybrid.get_traces(start_frame=a, end_frame=b)
                             for a, b in zip([0, 777, 40001, 100000], [777, 40001, 100000, hybrid.get_num_samples()])])
    assert np.array_equal(whole, pieces)
    assert np.array_equal(hybrid.get_traces(start_frame=5000, end_frame=5100, channel_ids=hybrid.channel_ids[3:7]),
                          whole[5000:5100, 3:7])
    assert hybrid.check_serializability("json")
    hybrid.dump_to_json(tmp_path / "hybrid.json")
    reloaded = sc.load(tmp_path / "hybrid.json")
    assert np.array_equal(reloaded.get_traces(), whole)
    folder = save_ground_truth(hybrid, sorting, tmp_path / "gt", n_jobs=2, chunk_duration="0.7s", progress_bar=False)
    saved, saved_sorting = load_ground_truth(folder)
    assert np.array_equal(saved.get_traces(), whole) and saved.get_dtype() == np.int16
    assert np.allclose(saved.get_channel_gains(), GAIN)
    assert np.array_equal(saved.get_channel_locations(), parent.get_channel_locations())
    assert set(saved_sorting.get_property_keys()) >= {"gt_unit_locations", "snr", "template_id", "cell_type"}
    assert (folder / "unit_templates.h5").is_file()


def _ramp_motion(duration: float, rate_per_s: tuple[float, float]) -> Motion:
    """Displacement growing linearly in time, at ``rate_per_s`` um/s at depth 0 and at depth 400 um."""
    times = np.arange(0.25, duration, 0.5)
    depths = np.array([0.0, 400.0])
    displacement = times[:, None] * np.asarray(rate_per_s, dtype=float)[None, :]
    return Motion(displacement=[displacement], temporal_bins_s=[times], spatial_bins_um=depths, direction="y")


def test_units_move_with_the_motion_spikeinterface_interpolates():
    parent = _parent(duration=10.0, n_per_column=24)
    motion = _ramp_motion(10.0, (1.0, 5.0))  # non-rigid: deeper tissue moves faster
    hybrid, sorting = generate_hybrid_ground_truth(parent, motion=motion, seed=2, **UNITS)
    middle = np.asarray(sorting.get_property("gt_unit_locations"))
    times = np.linspace(0.0, 9.9, 50)
    _, positions = ground_truth_positions(hybrid, times)
    for unit in range(len(middle)):
        expected = motion.get_displacement_at_time_and_depth(times, np.full(len(times), middle[unit, 1]))
        moved = positions[unit, :, 1] - middle[unit, 1]
        assert np.max(np.abs(moved - expected)) <= 1.01  # trajectories in steps of at most 2 um
        assert np.allclose(positions[unit, :, [0, 2]], middle[unit, [0, 2]][:, None])
    # in the traces: a unit's spikes late in the recording are centred higher by about its displacement
    # (amplitude-weighted centre of the channels; units within 50 um of the probe's ends are biased by them)
    residual = _residual_uV(hybrid, parent)
    y = parent.get_channel_locations()[:, 1]
    measured_shifts, expected_shifts = [], []
    for unit, unit_id in enumerate(sorting.unit_ids):
        frames = sorting.get_unit_spike_train(unit_id)
        early, late = frames[frames < 2 * FS], frames[frames > 8 * FS]
        if len(early) < 3 or len(late) < 3 or not 50 <= middle[unit, 1] <= y.max() - 100:
            continue
        centres = []
        for group in (early, late):
            peaks = np.abs(_mean_spike(residual, group, 30, 60)).max(axis=0)
            centres.append(np.sum(peaks ** 2 * y) / np.sum(peaks ** 2))
        expected = (motion.get_displacement_at_time_and_depth(late / FS, np.full(len(late), middle[unit, 1])).mean()
                    - motion.get_displacement_at_time_and_depth(early / FS, np.full(len(early), middle[unit, 1])).mean())
        measured_shifts.append(centres[1] - centres[0])
        expected_shifts.append(expected)
    assert len(measured_shifts) >= 3
    assert np.asarray(measured_shifts) == pytest.approx(np.asarray(expected_shifts), abs=6.0, rel=0.25)


def test_hybrid_cli_writes_a_ground_truth_folder_like_the_api(tmp_path, capsys):
    parent = _parent(duration=4.0)
    parent_folder = tmp_path / "parent"
    parent.save(folder=parent_folder, progress_bar=False)
    motion = _ramp_motion(4.0, (2.0, 2.0))
    motion.save(tmp_path / "motion")
    arguments = ["hybrid", str(parent_folder), "-o", str(tmp_path / "hybrid"), "--seed", "6", "--no-progress",
                 "--motion", str(tmp_path / "motion"), "--set", "spiketrains.n_exc=3", "--set", "spiketrains.n_inh=1"]
    assert main(arguments) == 0
    assert "4 units injected" in capsys.readouterr().out
    recording, sorting = load_ground_truth(tmp_path / "hybrid")
    assert recording.get_dtype() == np.int16 and np.allclose(recording.get_channel_gains(), GAIN)
    assert sorting.get_num_units() == 4
    assert Motion.load(tmp_path / "hybrid" / "motion").displacement[0] == pytest.approx(motion.displacement[0])
    api, _ = generate_hybrid_ground_truth(sc.load(parent_folder), motion=tmp_path / "motion", seed=6,
                                          **{"spiketrains.n_exc": 3, "spiketrains.n_inh": 1})
    assert np.array_equal(recording.get_traces(), api.get_traces())
    assert not np.array_equal(recording.get_traces(), parent.get_traces())


@pytest.mark.parametrize("case, words", [
    ("no-probe", ("no probe", "set_probe")),
    ("two-segments", ("one-segment", "select_segments")),
    ("whitened", ("WhitenRecording.*", "before that step")),
])
def test_parents_a_hybrid_cannot_be_made_of_are_refused_in_one_line(tmp_path, capsys, case, words):
    noise = NoiseGeneratorRecording(num_channels=8, sampling_frequency=FS, durations=[1.0] * (2 if case == "two-segments"
                                    else 1), noise_levels=5.0, dtype="float32", seed=0)
    if case != "no-probe":
        noise.set_probe(_probe(4))
    if case == "whitened":  # a whitened chain is seen while it is lazy (a saved folder forgets its chain)
        with pytest.raises(InputError, match=" ".join(words)):
            generate_hybrid_ground_truth(sp.whiten(noise, mode="global"))
        return
    noise.save(folder=tmp_path / "parent", progress_bar=False)
    capsys.readouterr()
    assert main(["hybrid", str(tmp_path / "parent"), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and all(word in error for word in words), error
    assert not (tmp_path / "out").exists()


def test_parameters_the_parent_sets_and_foreign_motion_folders_are_refused(tmp_path, capsys):
    parent = _parent(duration=1.0)
    with pytest.raises(InputError, match="recordings.fs.*parent"):
        generate_hybrid_ground_truth(parent, **{"recordings.fs": 20000})
    parent.save(folder=tmp_path / "parent", progress_bar=False)
    capsys.readouterr()
    (tmp_path / "not_motion").mkdir()
    assert main(["hybrid", str(tmp_path / "parent"), "-o", str(tmp_path / "out"), "--motion",
                 str(tmp_path / "not_motion")]) == 2
    assert "not a SpikeInterface Motion folder" in capsys.readouterr().err


def test_a_ground_truth_parent_gets_the_filter_it_was_made_with(tmp_path):
    recording, sorting = generate_ground_truth(seed=1, **{"spiketrains.duration": 2, "recordings.filter_order": 2,
                                                          "recordings.filter_cutoff": [250, 7000]})
    folder = save_ground_truth(recording, sorting, tmp_path / "gt", progress_bar=False)
    parent, _ = load_ground_truth(folder)
    hybrid, _ = generate_hybrid_ground_truth(parent, seed=2, **UNITS)
    section = hybrid.get_annotation("si_recsim_params")["recordings"]
    assert (section["filter_cutoff"], section["filter_order"], section["filter_mode"]) == ([250, 7000], 2, "filtfilt")


def test_a_motion_replayed_in_a_synthetic_recording_comes_back_from_ground_truth_motion(tmp_path):
    """recordings.motion drives synthetic units too; ground_truth_motion gives back, at each unit's depth,
    the displacement SpikeInterface interpolates from the motion that was put in."""
    motion = _ramp_motion(6.0, (-2.0, 3.0))
    motion.save(tmp_path / "motion")
    recording, sorting = generate_ground_truth(seed=5, **{"spiketrains.duration": 6, "recordings.drifting": True,
                                                          "recordings.motion": str(tmp_path / "motion")})
    assert np.all(sorting.get_property("drifting"))
    returned = ground_truth_motion(recording)
    depths = returned.spatial_bins_um
    times = returned.temporal_bins_s[0]
    for index, depth in enumerate(depths):
        expected = motion.get_displacement_at_time_and_depth(times, np.full(len(times), depth))
        assert np.max(np.abs(returned.displacement[0][:, index] - expected)) <= 1.01


@pytest.mark.slow
def test_units_follow_the_drift_spikeinterface_estimates_from_a_drifting_parent():
    """The user's path: SpikeInterface's drifting generator (known zigzag drift, +-15 um) as the parent,
    its motion estimated by SpikeInterface (no torch needed: decentralized, grid convolution), the
    units injected with it: they move with the parent's true drift."""
    from spikeinterface.generation import generate_drifting_recording

    from si_recsim import probe_from_name

    drift = dict(displacement_sampling_frequency=5.0, drift_start_um=[0, 15], drift_stop_um=[0, -15], drift_step_um=1,
                 motion_list=[dict(drift_mode="zigzag", non_rigid_gradient=None, t_start_drift=10.0, t_end_drift=None,
                                   period_s=40)])
    _, parent, _, info = generate_drifting_recording(num_units=60, duration=60.0, probe=probe_from_name("Neuropixels-128"),
                                                     generate_displacement_vector_kwargs=drift, extra_outputs=True, seed=2)
    motion = sp.compute_motion(parent, preset="nonrigid_fast_and_accurate", progress_bar=False)
    hybrid, sorting = generate_hybrid_ground_truth(parent, motion=motion, seed=1, **UNITS)
    true = np.asarray(info["displacement_vectors"])[:, 1, 0]  # rigid: every parent unit moves by it
    times = np.arange(len(true)) / info["displacement_sampling_frequency"]
    _, positions = ground_truth_positions(hybrid, times)
    moved = positions[:, :, 1] - np.asarray(sorting.get_property("gt_unit_locations"))[:, 1][:, None]
    assert np.ptp(true) == pytest.approx(30.0, abs=1.0)
    assert np.sqrt(np.mean((moved - true[None]) ** 2)) < 3.0


def test_a_missing_parent_and_parameter_conflicts_are_named_in_one_line(tmp_path, capsys):
    assert main(["hybrid", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert "does not exist" in error and "recording.save" in error and len(error.splitlines()) == 1
    _parent(duration=1.0).save(folder=tmp_path / "parent", progress_bar=False)
    capsys.readouterr()
    assert main(["hybrid", str(tmp_path / "parent"), "-o", str(tmp_path / "out"), "--set", "templates.min_amp=1000"]) == 2
    error = capsys.readouterr().err.strip()
    assert "templates.min_amp" in error and not error.endswith("..")
    assert not (tmp_path / "out").exists()


def test_a_float64_parent_keeps_its_precision():
    parent = sp.astype(_parent(duration=2.0, int16=False), dtype="float64")
    hybrid, _ = generate_hybrid_ground_truth(parent, seed=3, **UNITS)
    assert hybrid.get_dtype() == np.float64
    residual = hybrid.get_traces() - parent.get_traces()
    injected = hybrid._engine.get_traces(0, hybrid.get_num_samples()).astype(np.float64)
    assert np.max(np.abs(residual - injected)) < 1e-9  # no rounding through float32
