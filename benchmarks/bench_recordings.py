"""Recording generation speed and memory: si_recsim next to MEArec and SpikeInterface, in one run.

Every measurement runs in a fresh child process (so peak memory is its own) and the parent prints
a table with the ratios. "Compute every sample" means every trace sample is produced (si_recsim:
all chunks read through SpikeInterface's chunk executor and discarded; MEArec: ``gen_recordings``,
which fills its in-memory recording). MEArec runs with ``n_jobs`` 1 and 2 (its chunked joblib mode),
si_recsim with 1 job and 2 threads; speed-ups are given at equal workers and, for reference, for our
2 threads against MEArec's default single job.

Usage::

    python benchmarks/bench_recordings.py [--cases default,bursting,long,neuropixels,neuropixels-save] [--duration 60]

Needs MEArec (``pip install ".[test]"``) and the MEArec template library in ../shared/data.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from fresh_process import parse_or_serve, run_worker  # benchmarks/ is on sys.path when a script runs

LIBRARY = Path(os.environ.get("SI_RECSIM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) \
    / "mearec" / "templates_n5_Neuronexus-32_seed0.h5"
SEEDS = {"spiketrains": 1, "templates": 2, "convolution": 3, "noise": 4}


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def worker_mearec(overrides: dict, duration: float, n_jobs: int = 1) -> dict:
    import MEArec as mr

    params = mr.get_default_recordings_params()
    params["seeds"] = dict(SEEDS)
    params["spiketrains"]["duration"] = duration
    params["recordings"].update(overrides)
    tempgen = mr.load_templates(str(LIBRARY), return_h5_objects=False)
    start = time.perf_counter()
    recgen = mr.gen_recordings(params=params, tempgen=tempgen, verbose=0, n_jobs=n_jobs)
    elapsed = time.perf_counter() - start
    n_samples, n_channels = recgen.recordings.shape
    return dict(seconds=elapsed, peak_mb=_peak_mb(), channel_seconds=n_channels * duration, samples=n_samples)


def _compute_all(recording, n_jobs: int) -> None:
    from spikeinterface.core.job_tools import TimeSeriesChunkExecutor

    # si_recsim: chunks of whole blocks (~1 s), as save_ground_truth does; peers: 1 s chunks
    blocks = hasattr(recording, "get_block_size")
    chunking = dict(chunk_size=recording.get_block_size()) if blocks else dict(chunk_duration="1s")
    executor = TimeSeriesChunkExecutor(recording, _read_chunk, _init_chunk, (recording,), n_jobs=n_jobs,
                                       **chunking, progress_bar=False, pool_engine="thread",
                                       max_threads_per_worker=None)
    executor.run()


def _init_chunk(recording):
    return dict(recording=recording)


def _read_chunk(segment_index, start_frame, end_frame, worker_dict):
    worker_dict["recording"].get_traces(start_frame=start_frame, end_frame=end_frame, segment_index=segment_index)


def worker_si_recsim(overrides: dict, duration: float, n_jobs: int, library: str, n_units: int = 10) -> dict:
    import scipy.signal  # noqa: F401  si_recsim imports it lazily, MEArec on import: both timers exclude imports

    import si_recsim
    from si_recsim.library.analytic import make_analytic_library

    if library == "mearec":
        template_library = si_recsim.load_template_library(str(LIBRARY))
    else:
        template_library = make_analytic_library(library, n_near=600, n_far=0)
    start = time.perf_counter()
    n_exc = int(round(0.7 * n_units))
    params = {"seeds": dict(SEEDS), "spiketrains": {"duration": duration, "n_exc": n_exc, "n_inh": n_units - n_exc},
              "recordings": dict(overrides)}
    if library != "mearec":  # 100 units on the analytic library need a tighter packing than MEArec's 25 um
        params["templates"] = {"min_dist": 15}
    recording, sorting = si_recsim.generate_ground_truth(params, template_library=template_library, seed=0)
    setup = time.perf_counter() - start
    _compute_all(recording, n_jobs)
    elapsed = time.perf_counter() - start
    return dict(seconds=elapsed, setup_seconds=setup, peak_mb=_peak_mb(),
                channel_seconds=recording.get_num_channels() * duration, samples=recording.get_num_samples())


def worker_si_recsim_stages(duration: float, n_units: int) -> dict:
    """The Neuropixels case's engine, stage by stage over every block: ns per channel-sample of each."""
    import numpy as np

    import si_recsim
    from si_recsim.library.analytic import make_analytic_library

    template_library = make_analytic_library("Neuropixels-384", n_near=600, n_far=0)
    n_exc = int(round(0.7 * n_units))
    params = {"seeds": dict(SEEDS), "spiketrains": {"duration": duration, "n_exc": n_exc, "n_inh": n_units - n_exc},
              "recordings": {"fs": 32000}, "templates": {"min_dist": 15}}
    recording, _ = si_recsim.generate_ground_truth(params, template_library=template_library, seed=0)
    engine = recording._engine
    recording.get_traces(start_frame=0, end_frame=10)  # compiled kernels loaded
    stages = dict(noise=0.0, spikes=0.0, filter=0.0)
    n_blocks = -(-engine.num_samples // engine.block_size)
    for block in range(n_blocks):
        buffer = np.empty((engine.block_length(block) + 2 * engine.margin, engine.num_channels), dtype=np.float32)
        start = block * engine.block_size - engine.margin
        for name, stage, arguments in (("noise", engine.noise.fill, (buffer, start)),
                                       ("spikes", engine.injector.add_to, (buffer, start)),
                                       ("filter", engine.recording_filter.apply, (buffer,))):
            began = time.perf_counter()
            stage(*arguments)
            stages[name] += time.perf_counter() - began
    per_sample = engine.num_samples * engine.num_channels / 1e9
    return {name: seconds / per_sample for name, seconds in stages.items()}


class _WorkerMemory:
    """Largest unique (USS) and resident (RSS) memory of this process's children, sampled in a thread."""

    def __init__(self, period: float = 0.2):
        import threading

        import psutil

        self.uss_mb = self.rss_mb = 0.0
        self._stop = threading.Event()

        def sample():
            me = psutil.Process()
            while not self._stop.wait(period):
                for child in me.children(recursive=True):
                    try:
                        info = child.memory_full_info()
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                    self.uss_mb = max(self.uss_mb, info.uss / 2**20)
                    self.rss_mb = max(self.rss_mb, info.rss / 2**20)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def worker_si_recsim_save(duration: float, n_units: int, n_jobs: int, folder: str) -> dict:
    """A Neuropixels-384 ground truth from the default cell bank, saved to disk with ``n_jobs``."""
    import shutil

    import si_recsim

    n_exc = int(round(0.8 * n_units))
    start = time.perf_counter()
    recording, sorting = si_recsim.generate_ground_truth(seed=0, probe="Neuropixels-384", **{
        "spiketrains.duration": duration, "spiketrains.n_exc": n_exc, "spiketrains.n_inh": n_units - n_exc,
        "templates.min_dist": 10})
    setup = time.perf_counter() - start  # the library (computed once, then cached) and the trace engine
    shutil.rmtree(folder, ignore_errors=True)
    memory = _WorkerMemory()
    start = time.perf_counter()
    si_recsim.save_ground_truth(recording, sorting, folder, n_jobs=n_jobs, progress_bar=False)
    elapsed = time.perf_counter() - start
    memory.stop()
    size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return dict(seconds=elapsed, setup_seconds=setup, peak_mb=_peak_mb(), worker_uss_mb=memory.uss_mb,
                worker_rss_mb=memory.rss_mb, channel_seconds=recording.get_num_channels() * duration,
                samples=recording.get_num_samples(), bytes=size)


def worker_disk(size_bytes: int, folder: str) -> dict:
    """Seconds to write ``size_bytes`` to ``folder`` in 64 MB pieces and fsync: the disk's own speed."""
    import os

    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / "disk_speed.bin"
    piece = os.urandom(1 << 20) * 64
    count = max(1, size_bytes // len(piece))
    start = time.perf_counter()
    with open(path, "wb") as file:
        for _ in range(count):
            file.write(piece)
        file.flush()
        os.fsync(file.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    Path(folder).rmdir()
    return dict(seconds=elapsed, bytes=count * len(piece))


def worker_spikeinterface(duration: float, n_channels: int, n_units: int) -> dict:
    from spikeinterface.core import generate_ground_truth_recording

    start = time.perf_counter()
    recording, _ = generate_ground_truth_recording(durations=[duration], num_channels=n_channels, num_units=n_units,
                                                   sampling_frequency=32000.0, seed=0)
    setup = time.perf_counter() - start
    _compute_all(recording, 1)
    elapsed = time.perf_counter() - start
    return dict(seconds=elapsed, setup_seconds=setup, peak_mb=_peak_mb(), channel_seconds=n_channels * duration,
                samples=recording.get_num_samples())


WORKERS = {"mearec": worker_mearec, "si_recsim": worker_si_recsim, "si_recsim_save": worker_si_recsim_save,
           "si_recsim_stages": worker_si_recsim_stages, "spikeinterface": worker_spikeinterface, "disk": worker_disk}


def run_in_child(kind: str, **kwargs) -> dict:
    """Run one worker in a fresh Python process and return its measurements."""
    return run_worker(__file__, dict(kind=kind, kwargs=kwargs))


def _row(name: str, peer: dict | None, ours: dict, ours_parallel: dict | None = None,
         peer_parallel: dict | None = None, per_channel_second: bool = False):
    """One line: our times (1 job, 2 threads), the peer's (1 job, 2 jobs) and the ratios at equal workers."""
    unit = "ch-s" if per_channel_second else "run"

    def cost(result):
        return result["seconds"] / result["channel_seconds"] if per_channel_second else result["seconds"]

    text = f"{name:38s} ours {ours['seconds']:6.2f} s {ours['peak_mb']:5.0f} MB"
    if ours_parallel:
        text += f" (2 threads {ours_parallel['seconds']:5.2f} s)"
    if peer:
        text += f" | peer {peer['seconds']:6.2f} s {peer['peak_mb']:5.0f} MB"
        if peer_parallel:
            text += f" (2 jobs {peer_parallel['seconds']:5.2f} s)"
        text += f" | speed-up per {unit}: {cost(peer) / cost(ours):5.1f}x 1 vs 1"
        if ours_parallel:
            text += f", {cost(peer) / cost(ours_parallel):5.1f}x ours 2 vs peer 1"
        if ours_parallel and peer_parallel:
            text += f", {cost(peer_parallel) / cost(ours_parallel):5.1f}x 2 vs 2"
        text += f" | memory ratio {peer['peak_mb'] / ours['peak_mb']:4.1f}x"
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="default,bursting,long,neuropixels")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--save-duration", type=float, default=600.0,
                        help="seconds of the Neuropixels save case (neuropixels-save)")
    parser.add_argument("--save-folder", default="bench_np_save", help="where the save case writes (then deletes)")
    arguments = parse_or_serve(parser, WORKERS)
    if not LIBRARY.is_file():
        sys.exit(f"MEArec template library not found at {LIBRARY} (set SI_RECSIM_SHARED_DATA)")
    cases = arguments.cases.split(",")
    duration = arguments.duration
    print(f"si_recsim vs peers, {duration:g} s recordings, Neuronexus-32 MEArec library ({LIBRARY.name}); "
          "computing every sample\n")
    variants = {"default": {}, "bursting": {"bursting": True, "shape_mod": True}}
    for case in ("default", "bursting"):
        if case not in cases:
            continue
        overrides = variants[case]
        peer, peer_parallel = (run_in_child("mearec", overrides=overrides, duration=duration, n_jobs=n_jobs)
                               for n_jobs in (1, 2))
        ours, parallel = (run_in_child("si_recsim", overrides=overrides, duration=duration, n_jobs=n_jobs,
                                       library="mearec") for n_jobs in (1, 2))
        _row(f"MEArec {case} ({duration:g} s)", peer, ours, parallel, peer_parallel)
    if "long" in cases:
        ours = run_in_child("si_recsim", overrides={}, duration=600.0, n_jobs=1, library="mearec")
        _row("default, 600 s (MEArec: 53 s, 5.9 GB)", None, ours, None)
    if "neuropixels" in cases:
        n_units, np_duration = 100, 20.0
        peer = run_in_child("spikeinterface", duration=np_duration, n_channels=384, n_units=n_units)
        ours, parallel = (run_in_child("si_recsim", overrides={"fs": 32000}, duration=np_duration, n_jobs=n_jobs,
                                       library="Neuropixels-384", n_units=n_units) for n_jobs in (1, 2))
        print(f"(Neuropixels: si_recsim runs {n_units} units with modulation and filtering; SpikeInterface's "
              "generate_ground_truth_recording has neither; both at 32 kHz)")
        _row(f"Neuropixels-384, {n_units} units ({np_duration:g} s)", peer, ours, parallel,
             per_channel_second=True)
        samples = ours["samples"] * 384

        def rate(result):  # channel-samples per second, setup excluded
            return samples / (result["seconds"] - result["setup_seconds"]) / 1e6

        stages = run_in_child("si_recsim_stages", duration=np_duration, n_units=n_units)
        print(f"  setup (templates, spike trains, engine): ours {ours['setup_seconds']:.2f} s, peer "
              f"{peer['setup_seconds']:.2f} s; computing: ours {rate(ours):.0f} M channel-samples/s, peer "
              f"{rate(peer):.0f} M/s ({rate(ours) / rate(peer):.1f}x); our stages, ns per channel-sample: "
              + ", ".join(f"{name} {value:.2f}" for name, value in stages.items()), flush=True)
    if "neuropixels-save" in cases:  # hour-scale: 10 minutes x 384 channels x 300 units saved with 2 jobs
        n_units, save_duration = 300, arguments.save_duration
        ours = run_in_child("si_recsim_save", duration=save_duration, n_units=n_units, n_jobs=2,
                            folder=arguments.save_folder)
        peer = run_in_child("spikeinterface", duration=save_duration, n_channels=384, n_units=n_units)
        rate = ours["channel_seconds"] * 32000 / ours["seconds"]
        disk = run_in_child("disk", size_bytes=ours["bytes"], folder=arguments.save_folder + "_disk")
        print(f"Neuropixels-384, {n_units} units, {save_duration:g} s saved with 2 jobs: {ours['seconds']:.1f} s "
              f"(after {ours['setup_seconds']:.1f} s building the library or reading it from the cache, and the engine), "
              f"{rate / 1e6:.0f} M channel-samples/s, {ours['bytes'] / 1e9:.1f} GB written "
              f"(the disk alone: {disk['seconds'] * ours['bytes'] / disk['bytes']:.1f} s with fsync); peak "
              f"{ours['peak_mb']:.0f} MB parent, per worker {ours['worker_uss_mb']:.0f} MB unique (USS; "
              f"{ours['worker_rss_mb']:.0f} MB RSS with the pages shared with the forked parent) | "
              f"SpikeInterface's generator computing the same on 1 job: {peer['seconds']:.1f} s, ratio "
              f"{peer['seconds'] / ours['seconds']:.1f}x", flush=True)


if __name__ == "__main__":
    main()
