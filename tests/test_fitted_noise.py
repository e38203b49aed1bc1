"""Noise fitted from recordings whose noise is known (ours), and regenerated from the fitted model."""

import numpy as np
import pytest

from si_recsim import fit_noise_model, generate_ground_truth, load_ground_truth, load_noise_model, save_ground_truth

NOISE_ONLY = {"spiketrains.duration": 20, "recordings.filter": False}


def _noise(**overrides):
    """A recording whose only unit never fires: pure noise (Neuronexus-32, 32 kHz)."""
    recording, sorting = generate_ground_truth(spike_times=[[]], seed=3, **{**NOISE_ONLY, **overrides})
    return recording, sorting


def test_covariance_of_distance_correlated_noise_is_recovered():
    recording, _ = _noise(**{"recordings.noise_mode": "distance-correlated", "recordings.noise_half_distance": 30})
    model = fit_noise_model(recording, duration=20)
    std = np.sqrt(np.diag(model.covariance))
    assert std == pytest.approx(np.full(32, 10.0), rel=0.03)
    correlation = model.covariance / np.outer(std, std)
    locations = model.channel_locations
    distances = np.linalg.norm(locations[:, None] - locations[None], axis=2)
    near = (distances > 0) & (distances <= 100)
    expected = 2.0 ** (-distances[near] / 30.0)  # the generator's correlation, 0.5 at the half distance
    assert np.mean(np.abs(correlation[near] - expected)) < 0.02
    assert np.max(np.abs(correlation[near] - expected)) < 0.06
    inside = (model.frequencies > 300) & (model.frequencies < 10000)  # white: a flat spectrum
    assert np.std(model.psd.mean(axis=0)[inside]) / np.mean(model.psd.mean(axis=0)[inside]) < 0.1
    # sigma^2 = integral of the one-sided PSD
    assert np.sum(model.psd.mean(axis=0)) * (model.frequencies[1] - model.frequencies[0]) == pytest.approx(100, rel=0.05)


def test_coloured_noise_spectrum_peaks_where_it_was_coloured():
    recording, _ = _noise(**{"recordings.noise_color": True, "recordings.color_peak": 1000, "recordings.color_q": 2,
                             "recordings.color_noise_floor": 0.2})
    model = fit_noise_model(recording, duration=20)
    mean = model.psd.mean(axis=0)
    assert abs(model.frequencies[np.argmax(mean)] - 1000) < 150
    assert mean[np.argmin(np.abs(model.frequencies - 1000))] > 5 * mean[np.argmin(np.abs(model.frequencies - 8000))]


def test_generated_noise_reproduces_the_fitted_model(tmp_path):
    source, _ = _noise(**{"recordings.noise_mode": "distance-correlated", "recordings.noise_color": True,
                          "recordings.color_peak": 800, "recordings.color_q": 1.5})
    model = fit_noise_model(source, duration=20)
    path = model.save(tmp_path / "noise_model.npz")
    recording, sorting = _noise(**{"recordings.noise_mode": "fitted", "recordings.noise_model": str(path)})
    refit = fit_noise_model(recording, duration=20)
    np.testing.assert_allclose(refit.covariance, model.covariance, atol=0.06 * model.covariance.max())
    inside = (model.frequencies > 100) & (model.frequencies < 12000)
    shape, again = model.psd.mean(axis=0)[inside], refit.psd.mean(axis=0)[inside]
    assert np.corrcoef(shape, again)[0, 1] > 0.97
    assert np.max(np.abs(again / shape - 1)) < 0.35  # per frequency bin, from 20 s of noise
    # block-exact: any window is the same samples
    whole = recording.get_traces(start_frame=0, end_frame=70000)
    np.testing.assert_array_equal(recording.get_traces(start_frame=31000, end_frame=33500), whole[31000:33500])
    folder = save_ground_truth(recording, sorting, tmp_path / "gt")
    assert load_noise_model(folder / "noise_model.npz").covariance.shape == (32, 32)
    reloaded, _ = load_ground_truth(folder)
    np.testing.assert_array_equal(reloaded.get_traces(start_frame=0, end_frame=1000), whole[:1000])


def test_a_model_of_another_probe_is_refused(tmp_path):
    recording, _ = generate_ground_truth(spike_times=[[]], seed=3, probe="Neuropixels-128",
                                         **{"spiketrains.duration": 3, "recordings.filter": False})
    path = fit_noise_model(recording, duration=3).save(tmp_path / "np128.npz")
    with pytest.raises(ValueError, match="has 128 channels"):
        _noise(**{"recordings.noise_mode": "fitted", "recordings.noise_model": str(path)})
    with pytest.raises(ValueError, match="needs recordings.noise_model"):
        _noise(**{"recordings.noise_mode": "fitted"})


def test_fit_noise_and_generate_with_it_from_the_cli(tmp_path):
    import subprocess
    import sys

    cli = [sys.executable, "-m", "si_recsim.cli"]
    recording, sorting = _noise(**{"recordings.noise_mode": "distance-correlated", "spiketrains.duration": 5})
    save_ground_truth(recording, sorting, tmp_path / "source")
    fitted = subprocess.run(cli + ["fit-noise", str(tmp_path / "source"), str(tmp_path / "model.npz")],
                            capture_output=True, text=True)
    assert fitted.returncode == 0, fitted.stderr
    generated = subprocess.run(cli + ["gen-recordings", "--output", str(tmp_path / "gt"), "--duration", "2",
                                      "--set", "recordings.noise_mode=fitted", "--set", "recordings.noise_model=model.npz",
                                      "--no-progress"], capture_output=True, text=True, cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    reloaded, _ = load_ground_truth(tmp_path / "gt")
    assert reloaded.get_annotation("si_recsim_params")["recordings"]["noise_model"] == str(tmp_path / "model.npz")
    assert (tmp_path / "gt" / "noise_model.npz").is_file()
