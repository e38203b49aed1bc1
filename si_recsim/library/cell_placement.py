"""Template libraries from cell currents: cells placed and rotated in front of a probe, a task at a time.

The currents come from a *currents source*: a cell bank (:class:`BankCurrents`, numpy only) or
cells simulated with NEURON (:class:`si_recsim.biophysics.template_generation.SimulatedCurrents`).
Every cell model gets its own random generator, derived from the library seed and the model's
name, and its templates are made in tasks of :data:`TEMPLATES_PER_TASK`, each with its own stream,
so the library does not depend on which other models are used, in what order, or on how tasks are
spread over processes or MPI ranks. Finished tasks can be kept in a *parts* folder, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from si_recsim.atomic import atomic_savez
from si_recsim.errors import InputError, SetupError
from si_recsim.jobs import process_pool, resolve_n_jobs
from si_recsim.library.cell_bank import CellCurrents, bank_file_identity, read_cell_bank
from si_recsim.library.cell_classes import physrot_constrained
from si_recsim.library.placement import PlacementSettings, contact_points, generate_cell_templates
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.templates import TemplateParameters


class CurrentsSource(Protocol):
    """Where cell models' currents come from (picklable: it goes to worker processes)."""

    names: list[str]

    def prepare(self, name: str) -> None:
        """Make ``name``'s currents available (e.g. simulate and cache them)."""

    def currents(self, name: str) -> CellCurrents:
        """The currents and geometry of ``name``."""

    def identity(self, name: str) -> dict:
        """Everything that distinguishes ``name``'s currents (keys finished tasks)."""


@dataclasses.dataclass
class BankCurrents:
    """Cell models of a bank file as a currents source (h5py and numpy only).

    Parameters
    ----------
    path : Path
    names : list of str
        Models of the bank to use.
    """

    path: Path
    names: list

    def prepare(self, name: str) -> None:
        """Nothing to do: the currents are in the file."""

    def currents(self, name: str) -> CellCurrents:
        return _bank_cell(**bank_file_identity(self.path), name=name)

    def identity(self, name: str) -> dict:
        return dict(bank_file_identity(self.path), model=name)


@functools.lru_cache(maxsize=64)
def _bank_cell(file: str, size: int, modified_ns: int, name: str) -> CellCurrents:
    """One cell model of a bank file, read once per process (keyed by the file's identity); callers do
    not modify it."""
    return read_cell_bank(file, [name]).cells[name]


#: Templates per task: each model's templates are made in tasks of this size, each with its own
#: random stream, so the result does not depend on how tasks are spread over processes or ranks.
TEMPLATES_PER_TASK = 10
_CONTACT_POINTS_KEY = 0x636F6E74  # spawn key of the library's contact points (task streams have two-part keys)


def task_seed(seed: int, name: str, task: int) -> np.random.SeedSequence:
    """The random stream of one task: the library seed, a stable hash of the model name, the task."""
    return np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(name.encode()), task))


def _tasks(names: list[str], params: TemplateParameters) -> list[tuple[int, int, int]]:
    """(model index, task index, templates) for every task, in assembly order."""
    n = int(params.n)
    return [(index, task, min(TEMPLATES_PER_TASK, n - task * TEMPLATES_PER_TASK))
            for index in range(len(names)) for task in range(-(-n // TEMPLATES_PER_TASK))]


def _part_path(parts_folder: Path, source: CurrentsSource, name: str, params: TemplateParameters, probe,
               task: int) -> Path:
    payload = json.dumps(dict(params=params.model_dump(), probe=probe.to_dict(array_as_list=True),
                              currents=source.identity(name)), sort_keys=True, default=str)
    return parts_folder / f"{name}-{hashlib.sha1(payload.encode()).hexdigest()[:16]}-{task}.npz"


def library_contact_points(probe, params: TemplateParameters) -> np.ndarray:
    """The points averaged over each contact, (n_contacts, ncontacts, 3) µm: drawn once per library from
    its seed, so every model and task uses the same ones and a template can be recomputed exactly at
    another position (drift on demand)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(params.seed), spawn_key=(_CONTACT_POINTS_KEY,)))
    return contact_points(probe, int(params.ncontacts), rng)


def _run_task(source: CurrentsSource, name: str, probe, params: TemplateParameters, task: int, n: int) -> dict:
    spikes = source.currents(name)
    rng = np.random.default_rng(task_seed(params.seed, name, task))
    placement = dataclasses.replace(PlacementSettings.from_params(params), n=n)
    result = generate_cell_templates(spikes, probe, placement, physrot_constrained(name), rng,
                                     library_contact_points(probe, params))
    result.update(stimulus_nA=spikes.stimulus_nA, n_spikes=spikes.n_spikes, dt=spikes.dt, nbefore=spikes.nbefore,
                  celsius=float(spikes.provenance.get("celsius", np.nan)))
    return result


def place_cells(source: CurrentsSource, probe, params: TemplateParameters, parts_folder: Path | None = None,
                n_jobs: int | float | None = None, progress_bar: bool = True, communicator=None) -> TemplateLibrary | None:
    """Templates of every model of ``source`` on ``probe``, by the placement rules of ``params``.

    Parameters
    ----------
    source : CurrentsSource
    probe : Probe
    params : TemplateParameters
        Placement, rotation, acceptance and drift rules, ``n`` and ``seed``.
    parts_folder : Path | None, default: None
        Where finished tasks are kept (and found again by a resumed run).
    n_jobs : int | float | None, default: None
        Processes, as in SpikeInterface.
    progress_bar : bool, default: True
    communicator : mpi4py communicator | None, default: None
        Spread the tasks over its ranks; rank 0 returns the library, the others None.

    Returns
    -------
    library : TemplateLibrary | None
    """
    results = _run_tasks(source, probe, params, parts_folder, n_jobs, progress_bar, communicator)
    if communicator is not None and communicator.Get_rank() != 0:
        return None
    return _assemble(source, results, probe, params)


def _run_tasks(source, probe, params, parts_folder, n_jobs, progress_bar, communicator) -> list[dict]:
    """Every model's preparation (e.g. simulation), then every template task; per model, the tasks' results merged."""
    names = source.names
    tasks = _tasks(names, params)
    parts = ([_part_path(parts_folder, source, names[index], params, probe, task) for index, task, _ in tasks]
             if parts_folder is not None else [None] * len(tasks))
    todo = [position for position, part in enumerate(parts) if part is None or not part.exists()]
    rank, size = (communicator.Get_rank(), communicator.Get_size()) if communicator is not None else (0, 1)
    n_jobs = resolve_n_jobs(n_jobs)
    needed = sorted({tasks[position][0] for position in todo})
    mine = todo[rank::size]
    results: dict[int, dict] = {}
    with tqdm(total=len(needed[rank::size]) + len(mine), desc="templates",
              disable=not progress_bar or rank != 0) as bar:
        if n_jobs > 1 and len(mine) > 1:
            with process_pool(n_jobs) as pool:
                for future in [pool.submit(source.prepare, names[index]) for index in needed[rank::size]]:
                    future.result()
                    bar.update()
                _barrier(communicator)
                futures = {position: pool.submit(_run_task, source, names[tasks[position][0]], probe, params,
                                                 tasks[position][1], tasks[position][2]) for position in mine}
                for position, future in futures.items():
                    results[position] = future.result()
                    if parts[position] is not None:
                        atomic_savez(parts[position], results[position])
                    bar.update()
        else:
            for index in needed[rank::size]:
                source.prepare(names[index])
                bar.update()
            _barrier(communicator)
            for position in mine:
                index, task, n = tasks[position]
                results[position] = _run_task(source, names[index], probe, params, task, n)
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
    for index in range(len(names)):
        pieces = [results[position] for position, (model_index, _, _) in enumerate(tasks) if model_index == index]
        merged.append({key: (np.concatenate([piece[key] for piece in pieces]) if key in ("templates", "locations",
                                                                                         "rotations", "spike_indices")
                             else pieces[0][key]) for key in pieces[0]}
                      | {"rejected": sum(int(piece["rejected"]) for piece in pieces)})
    return merged


def _barrier(communicator) -> None:
    """Wait until every rank has prepared its models (a simulation cache then holds all of them)."""
    if communicator is not None:
        communicator.Barrier()


def _assemble(source: CurrentsSource, results: list[dict], probe, params: TemplateParameters) -> TemplateLibrary:
    names = source.names
    empty = [name for name, result in zip(names, results) if len(result["templates"]) == 0]
    if len(empty) == len(names):
        raise SetupError(
            f"No template reached min_amp = {params.min_amp} uV for any cell model: lower min_amp, move cells "
            "closer (xlim) or raise max_iterations."
        )
    templates = np.concatenate([result["templates"] for result in results])
    cell_models = np.concatenate([[name] * len(result["templates"]) for name, result in zip(names, results)])
    details = {name: dict(n_templates=int(len(result["templates"])), rejected=int(result["rejected"]),
                          stimulus_nA=float(result["stimulus_nA"]), n_spikes=int(result["n_spikes"]),
                          celsius=float(result["celsius"]))
               for name, result in zip(names, results)}
    dt, nbefore = float(results[0]["dt"]), int(results[0]["nbefore"])
    if any(float(result["dt"]) != dt or int(result["nbefore"]) != nbefore for result in results):
        raise InputError("The cell models' currents have different sampling or cut-outs: use models of one bank.")
    return TemplateLibrary(
        templates=templates, locations=np.concatenate([result["locations"] for result in results]),
        cell_models=cell_models, sampling_frequency=1000.0 / dt, nbefore=nbefore, probe=probe,
        rotations=np.concatenate([result["rotations"] for result in results]),
        spike_indices=np.concatenate([result["spike_indices"] for result in results]),
        source=f"si_recsim templates ({', '.join(names) if len(names) <= 3 else f'{len(names)} cell models'}; "
               f"seed {params.seed})",
        info=dict(params=params.model_dump(), models=details, models_without_templates=empty),
    )
