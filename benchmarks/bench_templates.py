"""Template generation speed: si_recsim next to MEArec's gen_templates, in one run.

Both simulate the same Blue Brain model folders (those an installed MEArec ships) on the
Neuronexus-32 probe with MEArec's default template parameters (10 points per contact, physrot),
each tool in a fresh child process. Intracellular simulation (including mechanism compilation)
is timed separately from the extracellular part, which is reported per accepted template.

MEArec's template generation needs NEURON < 9 (its models' synapse mechanisms do not compile with
NEURON 9), so run this in an environment with ``pip install "neuron<9" LFPy MEArec`` and
si_recsim; with NEURON 9 only si_recsim's side runs.

First, the cell-bank path (no NEURON): templates per second on one core from the default bank on
Neuronexus-32 (MEArec's defaults) and Neuropixels-128, and optionally the time from a fresh process
to the first second of a 100-unit recording on a probe (empty library cache).

Usage::

    python benchmarks/bench_templates.py [--models L5_BP_bAC217_1,L5_TTPC1_cADpyr232_1] [--n 5] [--drift-n 2]
                                         [--bank-only] [--first-second Neuropixels-384]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from fresh_process import WorkerFailed, parse_or_serve, run_worker  # benchmarks/ is on sys.path when a script runs


def _model_folders(names: list[str]) -> list[Path]:
    from si_recsim.biophysics.nmc_models import mearec_model_folders

    folders = {folder.name: folder for folder in mearec_model_folders()}
    missing = [name for name in names if name not in folders]
    if missing:
        sys.exit(f"Models {missing} not found among MEArec's: {sorted(folders)}")
    return [folders[name] for name in names]


def worker_mearec(names: list[str], n: int, drifting: bool, workdir: str, stage: str) -> dict:
    """One MEArec stage per process (MEArec cannot run gen_templates twice in one process)."""
    import MEArec as mr

    cell_folder = Path(workdir) / "cell_models"
    for folder in _model_folders(names):
        shutil.copytree(folder, cell_folder / folder.name, dirs_exist_ok=True)
    params = mr.get_default_templates_params()
    params.update(n=n, seed=0, probe="Neuronexus-32", drifting=drifting)
    tmp = Path(workdir) / "tmp"
    start = time.perf_counter()
    try:
        generator = mr.gen_templates(str(cell_folder), params=params, templates_tmp_folder=str(tmp),
                                     intraonly=stage == "intracellular", parallel=False, verbose=False)
    except FileNotFoundError:
        # MEArec 1.11 bug: with intraonly=True it simulates, then still tries to gather templates and raises
        if stage != "intracellular" or len(list((tmp / "intracellular").glob("imem_*.npy"))) != len(names):
            raise
    elapsed = time.perf_counter() - start
    if stage == "intracellular":
        return dict(intracellular_s=elapsed)
    return dict(extracellular_s=elapsed, n_templates=int(generator.templates.shape[0]))


def worker_si_recsim(names: list[str], n: int, drifting: bool, workdir: str) -> dict:
    from si_recsim.biophysics.intracellular import IntracellularSettings, simulate_spikes
    from si_recsim.biophysics.nmc_models import nmc_cell_models
    from si_recsim.biophysics.template_generation import generate_template_library

    cache = Path(workdir) / "cache"
    start = time.perf_counter()
    models = nmc_cell_models(_model_folders(names), cache)
    for model in models:
        simulate_spikes(model, IntracellularSettings.from_params(), cache)
    intracellular = time.perf_counter() - start
    start = time.perf_counter()
    library = generate_template_library(bank=None, models=models, n=n, seed=0, probe="Neuronexus-32", drifting=drifting,
                                 cache_folder=cache, progress_bar=False)
    extracellular = time.perf_counter() - start
    return dict(intracellular_s=intracellular, extracellular_s=extracellular, n_templates=library.num_templates)


def worker_bank(probe: str, n: int, workdir: str) -> dict:
    """Templates from the default cell bank (numpy only), one core, imports excluded."""
    from si_recsim.biophysics.template_generation import generate_template_library

    start = time.perf_counter()
    library = generate_template_library(bank="default", probe=probe, n=n, seed=0, n_jobs=1, progress_bar=False)
    elapsed = time.perf_counter() - start
    rejected = sum(details["rejected"] for details in library.info["models"].values())
    return dict(seconds=elapsed, n_templates=library.num_templates, rejected=rejected)


def worker_first_second(probe: str, n_units: int, workdir: str) -> dict:
    """A fresh process on one core: import, build a recording on ``probe`` from the bank (empty cache), read 1 s."""
    start = time.perf_counter()
    os.environ["SI_RECSIM_CACHE"] = workdir
    import si_recsim

    n_exc = int(round(0.8 * n_units))
    recording, _ = si_recsim.generate_ground_truth(probe=probe, seed=0, **{
        "spiketrains.n_exc": n_exc, "spiketrains.n_inh": n_units - n_exc, "spiketrains.duration": 10})
    recording.get_traces(start_frame=0, end_frame=int(recording.sampling_frequency))
    return dict(seconds=time.perf_counter() - start, n_channels=recording.get_num_channels())


#: MEArec 1.11's extracellular time per template, Neuronexus-32 with its defaults, measured by this script
#: on this machine with NEURON 8.2.7 (MEArec cannot run with the NEURON 9 the test extras install)
MEAREC_MS_PER_TEMPLATE = 866.0

WORKERS = {"mearec": worker_mearec, "si_recsim": worker_si_recsim, "bank": worker_bank,
           "first_second": worker_first_second}


def _child(kind: str, workdir: str, **kwargs) -> dict | None:
    # MEArec runs nrnivmodl through the shell: the environment's bin folder must be on PATH
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        return run_worker(__file__, dict(kind=kind, kwargs={**kwargs, "workdir": workdir}), environment)
    except WorkerFailed as failure:
        print(f"{kind} failed: {str(failure).strip().splitlines()[-1]}")
        return None


def run_in_child(kind: str, **kwargs) -> dict | None:
    """Run a tool in fresh processes (MEArec: intracellular, then extracellular, sharing its work folder)."""
    with tempfile.TemporaryDirectory() as workdir:
        if kind == "si_recsim":
            return _child(kind, workdir, **kwargs)
        intracellular = _child(kind, workdir, stage="intracellular", **kwargs)
        extracellular = _child(kind, workdir, stage="extracellular", **kwargs) if intracellular else None
        return {**intracellular, **extracellular} if extracellular else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="L5_BP_bAC217_1,L5_TTPC1_cADpyr232_1")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--drift-n", type=int, default=2)
    parser.add_argument("--bank-only", action="store_true", help="only the cell-bank cases (no NEURON needed)")
    parser.add_argument("--first-second", metavar="PROBE", help="also time a 100-unit recording on PROBE (e.g. "
                        "Neuropixels-384) from a fresh process to its first second")
    arguments = parse_or_serve(parser, WORKERS)
    with tempfile.TemporaryDirectory() as workdir:
        for probe, n in (("Neuronexus-32", 10), ("Neuropixels-128", 4)):
            result = _child("bank", workdir, probe=probe, n=n)
            if result:
                rate = result["n_templates"] / result["seconds"]
                peer = (f"; target >= 100/s; {MEAREC_MS_PER_TEMPLATE * rate / 1000.0:.0f}x MEArec's "
                        f"{MEAREC_MS_PER_TEMPLATE:.0f} ms per template" if probe == "Neuronexus-32" else "")
                print(f"cell bank, {probe:16s}: {result['n_templates']} templates in {result['seconds']:.1f} s = "
                      f"{rate:.0f} templates/s on one core ({result['rejected']} positions rejected){peer}", flush=True)
        if arguments.first_second:
            result = _child("first_second", workdir, probe=arguments.first_second, n_units=100)
            if result:
                print(f"100 units on {arguments.first_second} ({result['n_channels']} channels): first second after "
                      f"{result['seconds']:.1f} s from a fresh process (target 20 s)", flush=True)
    if arguments.bank_only:
        return
    import neuron

    names = arguments.models.split(",")
    print(f"NEURON {neuron.__version__}; models {names}; Neuronexus-32, MEArec defaults (ncontacts 10, physrot)\n")
    for label, n, drifting in (("static", arguments.n, False), ("drifting, 31 steps", arguments.drift_n, True)):
        ours = run_in_child("si_recsim", names=names, n=n, drifting=drifting)
        peer = run_in_child("mearec", names=names, n=n, drifting=drifting) if neuron.__version__ < "9" else None
        line = f"{label:20s}"
        if ours:
            per = ours["extracellular_s"] / ours["n_templates"]
            line += (f" si_recsim: {ours['n_templates']} templates, {per * 1000:7.1f} ms each, intracellular "
                     f"{ours['intracellular_s']:.1f} s")
        if peer:
            peer_per = peer["extracellular_s"] / peer["n_templates"]
            line += (f" | MEArec: {peer['n_templates']} templates, {peer_per * 1000:7.1f} ms each, intracellular "
                     f"{peer['intracellular_s']:.1f} s")
            if ours:
                line += f" | per-template speed-up {peer_per / per:5.1f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
