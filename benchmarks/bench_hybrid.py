"""Hybrid recordings: si_recsim's and SpikeInterface's ``generate_hybrid_recording``, side by side.

One parent for both (SpikeInterface's noise generator on Neuropixels-384, float32, a probe of 384
contacts), ``--units`` units injected by each, every sample computed in 1 s chunks (si_recsim: its
blocks) on one thread, each tool in a fresh process. Printed: setup (si_recsim computes its
templates from the cell bank for the probe and measures the parent's noise level; the first run
fills the library cache, so the script runs a warm-up first), the best of three computations of
the whole hybrid and of the parent alone (alternately), and the ratios of the injection costs
(hybrid minus parent) and of the totals.

Usage::

    python benchmarks/bench_hybrid.py [--duration 20] [--units 50]
"""

from __future__ import annotations

import argparse
import resource
import time

from fresh_process import parse_or_serve, run_worker  # benchmarks/ is on sys.path when a script runs

FS = 30000.0


def _parent(duration: float):
    from spikeinterface.generation import NoiseGeneratorRecording

    from si_recsim import probe_from_name

    parent = NoiseGeneratorRecording(num_channels=384, sampling_frequency=FS, durations=[duration], noise_levels=8.0,
                                     dtype="float32", seed=0, strategy="on_the_fly")
    parent.set_probe(probe_from_name("Neuropixels-384"))
    return parent


def _compute_all(recording) -> float:
    from spikeinterface.core.job_tools import TimeSeriesChunkExecutor

    blocks = hasattr(recording, "get_block_size")
    chunking = dict(chunk_size=recording.get_block_size()) if blocks else dict(chunk_duration="1s")
    start = time.perf_counter()
    TimeSeriesChunkExecutor(recording, _read_chunk, _init_chunk, (recording,), n_jobs=1, **chunking,
                            progress_bar=False, pool_engine="thread", max_threads_per_worker=None).run()
    return time.perf_counter() - start


def _init_chunk(recording):
    return dict(recording=recording)


def _read_chunk(segment_index, start_frame, end_frame, worker_dict):
    worker_dict["recording"].get_traces(start_frame=start_frame, end_frame=end_frame, segment_index=segment_index)


def worker(tool: str, duration: float, n_units: int, repeats: int = 3) -> dict:
    parent = _parent(duration)
    start = time.perf_counter()
    if tool == "si_recsim":
        from si_recsim import generate_hybrid_ground_truth

        n_inh = n_units // 5
        hybrid, _ = generate_hybrid_ground_truth(parent, seed=0, **{"spiketrains.n_exc": n_units - n_inh,
                                                                    "spiketrains.n_inh": n_inh})
        hybrid.get_traces(start_frame=0, end_frame=1)  # compiled kernels loaded: setup, not compute
    else:
        from spikeinterface.generation import generate_hybrid_recording

        hybrid, _ = generate_hybrid_recording(parent, seed=0, generate_sorting_kwargs=dict(
            num_units=n_units, firing_rates=10.0, refractory_period_ms=4.0))
    setup = time.perf_counter() - start
    # the parent and the hybrid alternately, best of a few: the injection is their difference
    parent_times, hybrid_times = [], []
    for _ in range(repeats):
        parent_times.append(_compute_all(parent))
        hybrid_times.append(_compute_all(hybrid))
    return dict(setup=setup, compute=min(hybrid_times), parent=min(parent_times),
                peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="s")
    parser.add_argument("--units", type=int, default=50)
    arguments = parse_or_serve(parser, {"worker": worker})
    spec = dict(duration=arguments.duration, n_units=arguments.units)
    run_worker(__file__, dict(kind="worker", kwargs=dict(tool="si_recsim", duration=2.0, n_units=arguments.units)))
    results = {tool: run_worker(__file__, dict(kind="worker", kwargs=dict(tool=tool, **spec)))
               for tool in ("si_recsim", "spikeinterface")}
    print(f"Neuropixels-384 parent, {arguments.duration:g} s, {arguments.units} units injected, 1 thread, best of 3")
    for tool, result in results.items():
        print(f"{tool:15s} setup {result['setup']:6.2f} s  hybrid {result['compute']:6.2f} s  parent alone "
              f"{result['parent']:6.2f} s  injection {result['compute'] - result['parent']:6.2f} s  peak "
              f"{result['peak_mb']:5.0f} MB")
    ours, theirs = results["si_recsim"], results["spikeinterface"]
    injection = (theirs["compute"] - theirs["parent"]) / max(ours["compute"] - ours["parent"], 1e-3)
    print(f"speed-up, injection (hybrid minus parent): {injection:.1f}x; hybrid: {theirs['compute'] / ours['compute']:.1f}x;"
          f" with setup: {(theirs['compute'] + theirs['setup']) / (ours['compute'] + ours['setup']):.1f}x")

if __name__ == "__main__":
    main()
