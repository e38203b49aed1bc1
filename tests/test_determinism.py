"""The same seed gives the same bytes whatever the thread count, and the bytes do not change unnoticed."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from si_recsim import generate_ground_truth

MODES = {
    "uncorrelated": {},
    "distance-correlated": {"recordings.noise_mode": "distance-correlated"},
    "colored": {"recordings.noise_color": True},
    "far-neurons": {"recordings.noise_mode": "far-neurons", "recordings.far_neurons_n": 20},
}
FRAMES = [0, 1234, 20000, 31999]

# a few samples of 1 s recordings with seed 0 on the default probe (Neuronexus-32, cell bank "default"),
# channel 3 * i for the i-th frame, as this version makes them (their statistics are tested elsewhere).
# They only notice a change: if they move, every user's recordings from a seed move, so say so in the
# release notes.
GOLDEN = {
    "uncorrelated": [14.819061, 3.2811368, -1.9404724, -1.7696697],
    "distance-correlated": [14.819069, -3.4751742, -1.1871895, -5.7281322],
    "colored": [3.774889, -3.5964026, -1.8594716, -1.6102557],
    "far-neurons": [-0.73963547, -0.6804444, 0.2846135, -0.48093748],
}


@pytest.mark.parametrize("mode", list(MODES))
def test_golden_samples(mode):
    recording, _ = generate_ground_truth(seed=0, **{"spiketrains.duration": 1.0, **MODES[mode]})
    traces = recording.get_traces()
    values = [traces[frame, (3 * index) % 32] for index, frame in enumerate(FRAMES)]
    # a few ulps: other CPUs may take other SIMD paths for numpy's float32 log (see the README's scope)
    assert np.allclose(values, GOLDEN[mode], rtol=1e-6, atol=1e-6), values


@pytest.mark.parametrize("mode", list(MODES))
def test_bytes_do_not_depend_on_blas_threads(mode):
    probe = "Neuropixels-128" if mode == "distance-correlated" else None
    traces = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            recording, _ = generate_ground_truth(seed=5, probe=probe, **{"spiketrains.duration": 0.5, **MODES[mode]})
            traces.append(recording.get_traces())
    assert np.array_equal(traces[0], traces[1])
