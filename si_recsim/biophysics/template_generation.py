"""The template job: cell models → membrane currents → templates on a probe → a library.

The currents come from a cell bank (``bank=``: numpy only, no NEURON; see
:mod:`si_recsim.library.cell_bank`) or from cell models simulated here with NEURON and LFPy
(:class:`SimulatedCurrents`, cached on disk). Placing the cells in front of the probe is the same
for both (:func:`si_recsim.library.cell_placement.place_cells`).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from si_recsim.atomic import check_output, mark_folder, written_by_si_recsim
from si_recsim.errors import InputError
from si_recsim.library.cell_bank import CellCurrents, cell_bank_classes
from si_recsim.library.cell_placement import BankCurrents, place_cells
from si_recsim.library.default import bank_path
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import ParameterError
from si_recsim.params.templates import TemplateParameters, build_template_params
from si_recsim.probes import probe_from_name
from si_recsim.resources import require_memory


@dataclasses.dataclass
class SimulatedCurrents:
    """Cell models simulated with NEURON and LFPy as a currents source (cached on disk)."""

    models: list
    params: TemplateParameters
    cache_folder: str | Path | None = None

    @property
    def names(self) -> list[str]:
        return [model.name for model in self.models]

    def _model(self, name: str):
        return next(model for model in self.models if model.name == name)

    def prepare(self, name: str) -> None:
        self.currents(name)

    def currents(self, name: str) -> CellCurrents:
        from si_recsim.biophysics.intracellular import IntracellularSettings, simulate_spikes

        return simulate_spikes(self._model(name), IntracellularSettings.from_params(self.params), self.cache_folder)

    def identity(self, name: str) -> dict:
        model = self._model(name)
        return dict(model=name, fingerprint=model.fingerprint, celsius=model.celsius,
                    target_spikes=model.target_spikes, intracellular=self.params.model_dump(
                        include={"sim_time", "dt", "delay", "cut_out", "target_spikes", "weights"}))


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
                    raise InputError("cell_models 'mearec' needs MEArec installed (pip install MEArec).")
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
        raise InputError(f"Cell model names must be unique, got {names}.")
    return sorted(models, key=lambda model: model.name)


def generate_template_library(params: dict | TemplateParameters | str | Path | None = None, models=None,
                              probe=None, bank: str | Path | None = "default", output: str | Path | None = None,
                              n_jobs: int | float | None = None, cache_folder: str | Path | None = None,
                              progress_bar: bool = True, mpi: bool = False, overwrite: bool = False,
                              allow_large: bool = False, **overrides) -> TemplateLibrary | None:
    """Templates of cell models placed in front of a probe, from a cell bank or simulated with NEURON.

    Parameters
    ----------
    params : dict | TemplateParameters | str | Path | None, default: None
        Template parameters (MEArec's ``templates_params.yaml`` keys; see
        :func:`si_recsim.params.templates.get_default_template_params`).
    models : list of CellModel | list of str | None, default: None
        Without ``bank``: models to simulate (any :class:`si_recsim.biophysics.cell_models.CellModel`);
        None uses ``params["cell_models"]``. With ``bank``: the names of the bank's models to use
        (None: all of them).
    probe : Probe | str | None, default: None
        A probeinterface probe or a name; None uses ``params["probe"]``. A 2-D probe lies in the
        plane z = 0 and cells are placed in front of it; a 3-D probe keeps its coordinates (see
        :func:`si_recsim.library.placement.placement_limits`).
    bank : str | Path | None, default: "default"
        A packaged bank's name (``"default"``: 13 Blue Brain layer-5 models, CC BY-NC-SA 4.0;
        ``"builtin"``: the built-in models, MIT) or a bank file: templates from its stored currents,
        with numpy alone (no NEURON). None simulates the cell models (``cell_models``) with NEURON.
    output : str | Path | None, default: None
        Library file to write (:func:`si_recsim.library.write_template_library`); its
        ``<output>.parts/`` folder keeps finished tasks so an interrupted run resumes.
    n_jobs : int | float | None, default: None
        Processes for the cell simulations and the template tasks, as in SpikeInterface (-1: every
        usable core; None: SpikeInterface's global job kwargs).
    cache_folder : str | Path | None, default: None
        Without ``bank``: intracellular cache (``$SI_RECSIM_CACHE`` or ``~/.cache/si_recsim`` when None); with MPI it
        must be visible to every rank.
    progress_bar : bool, default: True
    mpi : bool, default: False
        Spread the work over the MPI ranks of ``MPI.COMM_WORLD`` (mpi4py; run under ``mpirun``).
        Rank 0 writes the output and returns the library; the other ranks return None.
    overwrite : bool, default: False
        Replace an existing ``output``, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).
    allow_large : bool, default: False
        Skip the check that refuses, before any work, a library larger than the available memory.
    **overrides
        Parameter keys to replace, e.g. ``n=5, seed=0``.

    Returns
    -------
    library : TemplateLibrary | None
        The same whatever ``n_jobs`` and the number of MPI ranks.
    """
    if bank is not None and "cell_models" in overrides:
        raise ParameterError("cell_models are simulated with NEURON: pass bank=None with them, or choose the bank's "
                             "models with models=[names].")
    params = build_template_params(params, **overrides)
    if output is not None:
        check_output(output, overwrite)
    if mpi:
        from mpi4py import MPI

        communicator = MPI.COMM_WORLD
        params.seed = communicator.bcast(params.seed, root=0)
    else:
        communicator = None
    if bank is not None:
        path = bank_path(bank)
        available = list(cell_bank_classes(path)) if models is None else None
        source = BankCurrents(path, list(models) if models is not None else available)
    else:
        source = SimulatedCurrents(_resolve_models(params, models, cache_folder), params, cache_folder)
    if probe is None or isinstance(probe, str):
        probe = probe_from_name(probe or params.probe)
    samples = (sum(params.cut_out) / params.dt) * (params.drift_steps if params.drifting else 1)
    require_memory(f"{len(source.names)} cell models x {params.n} templates on {probe.get_contact_count()} contacts",
                   len(source.names) * params.n * probe.get_contact_count() * samples * 4,
                   "lower n (templates per model) or drift_steps", allow_large)
    parts_folder = Path(f"{output}.parts") if output is not None else None
    is_root = communicator is None or communicator.Get_rank() == 0
    if parts_folder is not None and is_root:
        _open_parts_folder(parts_folder)
    if communicator is not None:
        communicator.Barrier()
    library = place_cells(source, probe, params, parts_folder, n_jobs, progress_bar, communicator)
    if not is_root:
        return None
    if output is not None:
        from si_recsim.library.library_file import write_template_library

        write_template_library(library, output, overwrite=overwrite)
        library.spec = str(Path(output).resolve())
        shutil.rmtree(parts_folder, ignore_errors=True)
    return library


def _open_parts_folder(parts_folder: Path) -> None:
    """Create (marked as ours) or reuse the folder of finished tasks; refuse a folder si_recsim did not make."""
    if parts_folder.exists():
        if not written_by_si_recsim(parts_folder):
            raise FileExistsError(f"{parts_folder} exists and was not written by si_recsim: move it away (finished "
                                  "template tasks are kept there).")
        return
    parts_folder.mkdir(parents=True)
    mark_folder(parts_folder)
