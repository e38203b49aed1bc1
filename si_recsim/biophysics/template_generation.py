"""The template job: cell models → intracellular currents → templates on a probe → a library.

Every cell model gets its own random generator, derived from the library seed and the model's
name, so its templates do not depend on which other models are generated, in what order, or in
how many processes. Each finished model is written to a *parts* folder next to the output, so an
interrupted run resumes where it stopped and loses at most the model in progress.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from si_recsim.atomic import atomic_savez
from si_recsim.biophysics.placement import PlacementSettings, generate_cell_templates
from si_recsim.jobs import process_pool, resolve_n_jobs
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.templates import TemplateParameters, build_template_params
from si_recsim.probes import probe_from_name

#: m-type substrings of cell types kept upright by ``physrot`` (MEArec's table)
PHYSROT_CONSTRAINED = ("BP", "MC", "PC", "SS", "SP")


def physrot_constrained(name: str) -> bool:
    """Whether ``physrot`` keeps a cell model upright (its m-type matches MEArec's table)."""
    tokens = name.split("_")
    mtype = tokens[1] if len(tokens) >= 2 else name
    return any(substring in mtype for substring in PHYSROT_CONSTRAINED)


def _resolve_models(params: TemplateParameters, models, cache_folder) -> list:
    """Cell models from the ``cell_models`` parameter (unless given as objects)."""
    from si_recsim.biophysics.cell_models import BUILTIN_MODEL_NAMES, builtin_cell_model, builtin_cell_models
    from si_recsim.biophysics.nmc_models import mearec_model_folders, nmc_cell_models

    if models is not None:
        models = list(models)
    else:
        entries = params.cell_models
        entries = [entries] if isinstance(entries, str) else entries
        unknown = [entry for entry in entries if entry not in ("builtin", "mearec", *BUILTIN_MODEL_NAMES)
                   and not Path(str(entry)).is_dir()]
        if unknown:
            raise ParameterError(f"Unknown cell models {unknown}: use 'builtin', 'mearec' (the models of an installed "
                                 f"MEArec), built-in names {list(BUILTIN_MODEL_NAMES)}, or NMC-portal model folders.")
        models, folders = [], []
        for entry in entries:
            if entry == "builtin":
                models += builtin_cell_models()
            elif entry == "mearec":
                found = mearec_model_folders()
                if not found:
                    raise ValueError("cell_models 'mearec' needs MEArec installed (pip install MEArec).")
                folders += found
            elif entry in BUILTIN_MODEL_NAMES:
                models.append(builtin_cell_model(entry))
            else:
                folder = Path(entry)
                folders += [folder] if (folder / "template.hoc").exists() else sorted(
                    path for path in folder.iterdir() if (path / "template.hoc").exists())
        if folders:
            models += nmc_cell_models(folders, cache_folder)
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        raise ValueError(f"Cell model names must be unique, got {names}.")
    return sorted(models, key=lambda model: model.name)


def _settings(params: TemplateParameters):
    from si_recsim.biophysics.intracellular import IntracellularSettings

    return IntracellularSettings.from_params(params), PlacementSettings.from_params(params)


#: Templates per task: each model's templates are made in tasks of this size, each with its own
#: random stream, so the result does not depend on how tasks are spread over processes or ranks.
TEMPLATES_PER_TASK = 10


def task_seed(seed: int, name: str, task: int) -> np.random.SeedSequence:
    """The random stream of one task: the library seed, a stable hash of the model name, the task."""
    return np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(name.encode()), task))


def _tasks(models, params: TemplateParameters) -> list[tuple[int, int, int]]:
    """(model index, task index, templates) for every task, in assembly order."""
    n = int(params.n)
    return [(index, task, min(TEMPLATES_PER_TASK, n - task * TEMPLATES_PER_TASK))
            for index in range(len(models)) for task in range(-(-n // TEMPLATES_PER_TASK))]


def _part_path(parts_folder: Path, model, params: TemplateParameters, probe, task: int) -> Path:
    payload = json.dumps(dict(params=params.model_dump(), probe=probe.to_dict(array_as_list=True), model=model.name,
                              fingerprint=model.fingerprint, celsius=model.celsius,
                              target_spikes=model.target_spikes), sort_keys=True, default=str)
    return parts_folder / f"{model.name}-{hashlib.sha1(payload.encode()).hexdigest()[:16]}-{task}.npz"


def _simulate(model, params: TemplateParameters, cache_folder) -> None:
    from si_recsim.biophysics.intracellular import simulate_spikes

    simulate_spikes(model, _settings(params)[0], cache_folder)


def _run_task(model, probe, params: TemplateParameters, cache_folder, task: int, n: int) -> dict:
    from si_recsim.biophysics.intracellular import simulate_spikes

    intracellular, placement = _settings(params)
    spikes = simulate_spikes(model, intracellular, cache_folder)  # cached by the simulation phase
    rng = np.random.default_rng(task_seed(params.seed, model.name, task))
    placement = dataclasses.replace(placement, n=n)
    result = generate_cell_templates(spikes, probe, placement, physrot_constrained(model.name), rng)
    result["stimulus_nA"] = spikes.stimulus_nA
    result["n_spikes"] = len(spikes.currents)
    return result


def generate_template_library(params: dict | TemplateParameters | str | Path | None = None, models=None,
                              probe=None,
                              output: str | Path | None = None, n_jobs: int | float | None = None,
                              cache_folder: str | Path | None = None, progress_bar: bool = True, mpi: bool = False,
                              **overrides) -> TemplateLibrary | None:
    """Simulate cell models and compute their templates on a probe.

    Parameters
    ----------
    params : dict | TemplateParameters | str | Path | None, default: None
        Template parameters (MEArec's ``templates_params.yaml`` keys; see
        :func:`si_recsim.params.templates.get_default_template_params`).
    models : list of CellModel | None, default: None
        Models to simulate (any :class:`si_recsim.biophysics.cell_models.CellModel`); None uses
        ``params["cell_models"]`` (names of built-in models; all of them by default).
    probe : Probe | str | None, default: None
        A probeinterface probe or a name; None uses ``params["probe"]``. A 2-D probe lies in the
        plane z = 0 and cells are placed in front of it; a 3-D probe keeps its coordinates (see
        :func:`si_recsim.biophysics.placement.placement_limits`).
    output : str | Path | None, default: None
        Library file to write (:func:`si_recsim.library.write_template_library`); its
        ``<output>.parts/`` folder keeps finished tasks so an interrupted run resumes.
    n_jobs : int | float | None, default: None
        Processes for the cell simulations and the template tasks, as in SpikeInterface (-1: every
        usable core; None: SpikeInterface's global job kwargs).
    cache_folder : str | Path | None, default: None
        Intracellular cache (``$SI_RECSIM_CACHE`` or ``~/.cache/si_recsim`` when None); with MPI it
        must be visible to every rank.
    progress_bar : bool, default: True
    mpi : bool, default: False
        Spread the work over the MPI ranks of ``MPI.COMM_WORLD`` (mpi4py; run under ``mpirun``).
        Rank 0 writes the output and returns the library; the other ranks return None.
    **overrides
        Parameter keys to replace, e.g. ``n=5, seed=0``.

    Returns
    -------
    library : TemplateLibrary | None
        The same whatever ``n_jobs`` and the number of MPI ranks.
    """
    params = build_template_params(params, **overrides)
    if mpi:
        from mpi4py import MPI

        communicator = MPI.COMM_WORLD
        params.seed = communicator.bcast(params.seed, root=0)
    else:
        communicator = None
    models = _resolve_models(params, models, cache_folder)
    if probe is None or isinstance(probe, str):
        probe = probe_from_name(probe or params.probe)
    parts_folder = Path(f"{output}.parts") if output is not None else None
    is_root = communicator is None or communicator.Get_rank() == 0
    if parts_folder is not None and is_root:
        parts_folder.mkdir(parents=True, exist_ok=True)
    if communicator is not None:
        communicator.Barrier()
    results = _run_tasks(models, probe, params, cache_folder, parts_folder, n_jobs, progress_bar, communicator)
    if not is_root:
        return None
    library = _assemble(models, results, probe, params)
    if output is not None:
        from si_recsim.library.library_file import write_template_library

        write_template_library(library, output)
        library.spec = str(Path(output).resolve())
        shutil.rmtree(parts_folder, ignore_errors=True)
    return library


def _run_tasks(models, probe, params, cache_folder, parts_folder, n_jobs, progress_bar, communicator) -> list[dict]:
    """Every model's simulation, then every template task; per model, the tasks' results merged."""
    tasks = _tasks(models, params)
    parts = ([_part_path(parts_folder, models[index], params, probe, task) for index, task, _ in tasks]
             if parts_folder is not None else [None] * len(tasks))
    todo = [position for position, part in enumerate(parts) if part is None or not part.exists()]
    rank, size = (communicator.Get_rank(), communicator.Get_size()) if communicator is not None else (0, 1)
    n_jobs = resolve_n_jobs(n_jobs)
    needed = sorted({tasks[position][0] for position in todo})
    mine = todo[rank::size]
    results: dict[int, dict] = {}
    with tqdm(total=len(needed[rank::size]) + len(mine), desc="gen-templates",
              disable=not progress_bar or rank != 0) as bar:
        if n_jobs > 1 and len(mine) > 1:
            with process_pool(n_jobs) as pool:
                for future in [pool.submit(_simulate, models[index], params, cache_folder)
                               for index in needed[rank::size]]:
                    future.result()
                    bar.update()
                _barrier(communicator)
                futures = {position: pool.submit(_run_task, models[tasks[position][0]], probe, params, cache_folder,
                                                 tasks[position][1], tasks[position][2]) for position in mine}
                for position, future in futures.items():
                    results[position] = future.result()
                    if parts[position] is not None:
                        atomic_savez(parts[position], results[position])
                    bar.update()
        else:
            for index in needed[rank::size]:
                _simulate(models[index], params, cache_folder)
                bar.update()
            _barrier(communicator)
            for position in mine:
                index, task, n = tasks[position]
                results[position] = _run_task(models[index], probe, params, cache_folder, task, n)
                if parts[position] is not None:
                    atomic_savez(parts[position], results[position])
                bar.update()
    if communicator is not None:
        gathered = communicator.gather(results, root=0)
        if rank != 0:
            return []
        results = {position: result for part in gathered for position, result in part.items()}
    for position, part in enumerate(parts):
        if position not in results:  # finished by an earlier, interrupted run
            with np.load(part) as data:
                results[position] = {key: data[key] for key in data.files}
    merged = []
    for index in range(len(models)):
        pieces = [results[position] for position, (model_index, _, _) in enumerate(tasks) if model_index == index]
        merged.append({key: (np.concatenate([piece[key] for piece in pieces]) if key in ("templates", "locations",
                                                                                         "rotations")
                             else pieces[0][key]) for key in pieces[0]}
                      | {"rejected": sum(int(piece["rejected"]) for piece in pieces)})
    return merged


def _barrier(communicator) -> None:
    """Wait until every rank has simulated its models (the cache then holds all of them)."""
    if communicator is not None:
        communicator.Barrier()


def _assemble(models, results: list[dict], probe, params: TemplateParameters) -> TemplateLibrary:
    empty = [model.name for model, result in zip(models, results) if len(result["templates"]) == 0]
    if len(empty) == len(models):
        raise RuntimeError(
            f"No template reached min_amp = {params.min_amp} uV for any cell model: lower min_amp, move cells "
            "closer (xlim) or raise max_iterations."
        )
    templates = np.concatenate([result["templates"] for result in results])
    cell_models = np.concatenate([[model.name] * len(result["templates"]) for model, result in zip(models, results)])
    details = {model.name: dict(n_templates=int(len(result["templates"])), rejected=int(result["rejected"]),
                                stimulus_nA=float(result["stimulus_nA"]), n_spikes=int(result["n_spikes"]),
                                celsius=model.celsius, description=model.description)
               for model, result in zip(models, results)}
    return TemplateLibrary(
        templates=templates, locations=np.concatenate([result["locations"] for result in results]),
        cell_models=cell_models, sampling_frequency=1000.0 / float(params.dt),
        nbefore=int(round(params.cut_out[0] / params.dt)), probe=probe,
        rotations=np.concatenate([result["rotations"] for result in results]),
        source=f"si_recsim gen-templates ({', '.join(model.name for model in models)}; seed {params.seed})",
        info=dict(params=params.model_dump(), models=details, models_without_templates=empty),
    )
