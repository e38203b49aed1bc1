"""The realism scorecard against hand-computed distances."""

import subprocess
import sys

import numpy as np
import pytest

from si_recsim import compare_recordings, generate_ground_truth, save_ground_truth

SHORT = {"spiketrains.duration": 8}


def test_a_recording_is_at_distance_zero_from_itself():
    recording, _ = generate_ground_truth(seed=4, **SHORT)
    distances = compare_recordings(recording, recording, duration=8)["distances"]
    assert all(value == pytest.approx(0.0, abs=1e-12) for value in distances.values()), distances


def test_distances_see_a_doubled_noise_level_and_correlation():
    quiet, _ = generate_ground_truth(spike_times=[[]], seed=4, **SHORT, **{"recordings.filter": False})
    loud, _ = generate_ground_truth(spike_times=[[]], seed=5, **SHORT, **{"recordings.filter": False,
                                                                          "recordings.noise_level": 20})
    result = compare_recordings(loud, quiet, duration=8)
    distances = result["distances"]
    assert distances["noise_level_ks"] == 1.0  # every channel louder: disjoint distributions
    assert distances["spectrum_log10_rms"] == pytest.approx(np.log10(4.0), abs=0.03)  # power x 4
    assert distances["correlation_by_distance_mean_abs"] < 0.05  # both uncorrelated
    correlated, _ = generate_ground_truth(spike_times=[[]], seed=4, **SHORT, **{
        "recordings.filter": False, "recordings.noise_mode": "distance-correlated"})
    assert compare_recordings(correlated, quiet, duration=8)["distances"]["correlation_by_distance_mean_abs"] > 0.1


def test_scorecard_from_the_cli(tmp_path):
    recording, sorting = generate_ground_truth(seed=4, **SHORT)
    save_ground_truth(recording, sorting, tmp_path / "a")
    completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", "compare-recordings", str(tmp_path / "a"),
                                str(tmp_path / "a"), "--duration", "8", "--plot", str(tmp_path / "card.png")],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "peak amplitude, median" in completed.stdout and (tmp_path / "card.png").stat().st_size > 10_000
