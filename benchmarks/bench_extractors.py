"""Reading MEArec recording files: si_recsim's h5py reader next to SpikeInterface's read_mearec.

A 60 s MEArec recording is made by MEArec itself (default parameters, the shared template
library); each reader then runs in a fresh process (import, open, read 10 s, read everything,
spike vector) and the ratios are printed.

Usage::

    python benchmarks/bench_extractors.py [--duration 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from fresh_process import parse_or_serve, run_worker  # benchmarks/ is on sys.path when a script runs

LIBRARY = Path(os.environ.get("SI_RECSIM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) \
    / "mearec" / "templates_n5_Neuronexus-32_seed0.h5"


def make_recording(path: Path, duration: float) -> None:
    import MEArec as mr

    params = mr.get_default_recordings_params()
    params["spiketrains"]["duration"] = duration
    params["seeds"] = {"spiketrains": 1, "templates": 2, "convolution": 3, "noise": 4}
    templates = mr.load_templates(str(LIBRARY), return_h5_objects=False)
    mr.save_recording_generator(mr.gen_recordings(params=params, tempgen=templates, verbose=False), str(path))


def worker(reader: str, path: str) -> dict:
    start = time.perf_counter()
    if reader == "si_recsim":
        from si_recsim.io.mearec_recording import read_mearec_recording as read
    else:
        from spikeinterface.extractors import read_mearec as read
    imported = time.perf_counter()
    recording, sorting = read(path)
    opened = time.perf_counter()
    recording.get_traces(start_frame=0, end_frame=int(10 * recording.sampling_frequency))
    ten_seconds = time.perf_counter()
    recording.get_traces()
    everything = time.perf_counter()
    sorting.to_spike_vector()
    spikes = time.perf_counter()
    return dict(import_s=imported - start, open_s=opened - imported, read_10s_s=ten_seconds - opened,
                read_all_s=everything - ten_seconds, spike_vector_s=spikes - everything, total_s=spikes - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0)
    arguments = parse_or_serve(parser, {"read": worker})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mearec.h5"
        make_recording(path, arguments.duration)
        results = {}
        for reader in ("si_recsim", "read_mearec"):
            results[reader] = run_worker(__file__, dict(kind="read", kwargs=dict(reader=reader, path=str(path))))
    print(f"MEArec recording, {arguments.duration:g} s x 32 channels")
    for key in ("import_s", "open_s", "read_10s_s", "read_all_s", "spike_vector_s", "total_s"):
        ours, theirs = results["si_recsim"][key], results["read_mearec"][key]
        print(f"{key:15s} si_recsim {ours:7.3f} s | read_mearec {theirs:7.3f} s | ratio {theirs / max(ours, 1e-9):6.1f}x")


if __name__ == "__main__":
    main()
