"""The main job: a ground-truth recording and sorting from a parameter tree, and their folders."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import yaml
from probeinterface import Probe

from si_recsim.atomic import atomic_output, check_output
from si_recsim.errors import InputError
from si_recsim.library.bank_library import bank_library_spec
from si_recsim.library.loading import library_reference, remember_library
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.common import parse_yaml
from si_recsim.params.recordings import RecordingParameters, build_params
from si_recsim.probes import probe_from_name
from si_recsim.recording.budget import check_recording_budget, check_saving_budget
from si_recsim.recording.extractors import PARAMS_ANNOTATION, InjectedUnitsAccess, SimulatedRecording, SimulatedSorting

RECORDING_FOLDER, SORTING_FOLDER, PARAMS_FILE = "recording", "sorting", "params.yaml"
UNIT_TEMPLATES_FILE = "unit_templates.h5"
NOISE_MODEL_FILE = "noise_model.npz"
MOTION_FOLDER = "motion"
ANALYZER_FOLDER = "analyzer"
#: annotation of a reloaded ground truth: its unit templates file (what MEArec export writes as templates)
UNIT_TEMPLATES_ANNOTATION = "si_recsim_unit_templates"
DEFAULT_PROBE = "Neuronexus-32"
ZARR_SUFFIX = ".zarr"


def generate_ground_truth(params: dict | RecordingParameters | str | Path | None = None, template_library=None,
                          spike_times: list | None = None, unit_types: list | None = None,
                          seed: int | None = None, probe=None, bank: str | Path = "default",
                          allow_large: bool = False, **overrides) -> tuple[SimulatedRecording, SimulatedSorting]:
    """Build a lazy ground-truth recording and its sorting.

    Parameters
    ----------
    params : dict | RecordingParameters | str | Path | None, default: None
        Parameters in MEArec's ``recordings_params.yaml`` layout (dict, model or YAML file); missing keys
        take the defaults of :func:`si_recsim.get_default_recording_params`.
    template_library : str | Path | TemplateLibrary | None, default: None
        None: templates computed from the cell ``bank`` for ``probe`` (Neuronexus-32 by default).
        Or a library: ``"default"`` (the embedded Neuronexus-32 library of the built-in models), an
        si_recsim library or MEArec template file, or a library object.
    spike_times : list of array-like | None, default: None
        User spike trains in seconds (one per unit) instead of drawn ones.
    unit_types : list of str | None, default: None
        ``"E"``/``"I"`` per user spike train.
    seed : int | None, default: None
        Global seed from which every unset stage seed derives; all seeds used are stored in the
        ``si_recsim_params`` annotation of the recording and the sorting.
    probe : Probe | str | None, default: None
        Without a library, record with this probe (None: Neuronexus-32; a probeinterface ``Probe``, a
        MEArec probe name or a Neuropixels part number): the templates are computed from ``bank`` for
        it (cells placed by the ``templates`` seed; cached on disk by their inputs, see
        :mod:`si_recsim.library.bank_library`).
    bank : str | Path, default: "default"
        The cell bank used with ``probe``.
    allow_large : bool, default: False
        Skip the check that refuses, before any work, a recording whose spike trains and templates
        would not fit in memory (:func:`si_recsim.recording.budget.check_recording_budget`).
    **overrides
        Dotted parameter keys, e.g. ``**{"spiketrains.duration": 60}``.

    Returns
    -------
    recording : SimulatedRecording
        Lazy SpikeInterface recording with probe and gains.
    sorting : SimulatedSorting
        Ground-truth spike trains with unit properties (``gt_unit_locations``, ``main_channel_id``,
        ``cell_type``, ...).
    """
    sorting, library = ground_truth_sorting(params, template_library, spike_times, unit_types, seed, probe, bank,
                                            allow_large, **overrides)
    return SimulatedRecording(sorting, sorting.get_annotation(PARAMS_ANNOTATION), **library), sorting


def ground_truth_sorting(params=None, template_library=None, spike_times: list | None = None,
                         unit_types: list | None = None, seed: int | None = None, probe=None,
                         bank: str | Path = "default", allow_large: bool = False,
                         **overrides) -> tuple[SimulatedSorting, dict]:
    """The ground-truth sorting of :func:`generate_ground_truth` (same arguments), and the library
    keywords (``template_library`` or ``template_library_path``) its recording is built with."""
    if seed is not None:
        overrides["seed"] = seed
    full_params = build_params(params, **overrides)
    if probe is not None and template_library is not None:
        raise InputError("Give a probe (templates computed from a cell bank) or a template library, not both.")
    if template_library is None:
        n_channels = (probe_from_name(probe or DEFAULT_PROBE) if not isinstance(probe, Probe) else probe).get_contact_count()
    else:
        n_channels = template_library.num_channels if isinstance(template_library, TemplateLibrary) else 1
    given = None if spike_times is None else (len(spike_times), sum(len(times) for times in spike_times))
    check_recording_budget(full_params, n_channels, *(given or (None, None)), allow_large=allow_large)
    if template_library is None:
        probe = DEFAULT_PROBE if probe is None else probe
        n_far = full_params.recordings.far_neurons_n if full_params.recordings.noise_mode == "far-neurons" else 0
        types = _unit_types(full_params, spike_times, unit_types)
        template_library = bank_library_spec(probe, bank, seed=full_params.seeds.templates, n_exc=types.count("E"),
                                             n_inh=types.count("I"), n_far=n_far)
    if isinstance(template_library, TemplateLibrary):
        remember_library(template_library)  # the extractors load it by its description
    library = library_reference(template_library)
    if spike_times is not None:
        spike_times = [np.asarray(times, dtype=float).tolist() for times in spike_times]
        unit_types = None if unit_types is None else [str(value) for value in unit_types]
    return SimulatedSorting(full_params, spike_times=spike_times, unit_types=unit_types, **library), library


def _unit_types(params: RecordingParameters, spike_times: list | None, unit_types: list | None) -> list[str]:
    """``"E"``/``"I"`` of every unit the recording will have."""
    if spike_times is not None:
        return [str(kind) for kind in unit_types] if unit_types is not None else ["E"] * len(spike_times)
    if params.spiketrains.rates is not None:
        return list(params.spiketrains.types)
    return ["E"] * params.spiketrains.n_exc + ["I"] * params.spiketrains.n_inh


def save_ground_truth(recording, sorting, folder: str | Path, format: str = "binary", overwrite: bool = False,
                      allow_large: bool = False, **job_kwargs):
    """Write traces, ground-truth sorting (with all properties) and parameters to one folder.

    The folder holds ``recording/`` and ``sorting/`` (SpikeInterface binary and numpy folders), or
    ``recording.zarr/`` and ``sorting.zarr/``, sortings with all their properties, ``params.yaml``
    (the complete parameters with the seeds used) and, for si_recsim's simulated and hybrid recordings,
    ``unit_templates.h5``: the units' library templates (with their drift trajectories) as an
    si_recsim template library, plus ``convolved`` (n_units, [n_drift_steps,] n_samples, n_channels),
    the mean of each unit's jittered copies at the recording's rate (attributes
    ``convolved_sampling_frequency``, ``convolved_nbefore``). A recording made with fitted noise gets
    ``noise_model.npz``, one whose units follow a ``Motion`` gets ``motion/`` (``Motion.load``). With
    ``recordings.extract_waveforms``, ``analyzer/`` is a SpikeInterface SortingAnalyzer of the saved
    ground truth with every spike's waveform (0.5 ms before, 2 ms after, MEArec's cut) and the
    templates (``spikeinterface.core.load_sorting_analyzer``).
    Everything is written through :func:`si_recsim.atomic.atomic_output`: to a temporary sibling folder
    renamed at the end, so an interrupted run never leaves a half-written folder.

    Parameters
    ----------
    recording, sorting
        Output of :func:`generate_ground_truth` or :func:`si_recsim.generate_hybrid_ground_truth`.
    folder : str | Path
    format : "binary" | "zarr", default: "binary"
    overwrite : bool, default: False
        Replace an existing folder, only one si_recsim wrote (it holds a ``.si_recsim`` marker); anything
        else at ``folder`` is refused.
    allow_large : bool, default: False
        Skip the check that refuses traces larger than the free disk space.
    **job_kwargs
        SpikeInterface job arguments (``n_jobs``, ``chunk_duration``, ``progress_bar``, ...).
        Without a chunking argument, chunks are whole blocks of the recording's grid, about
        ``recordings.chunk_duration`` seconds long.

    Returns
    -------
    folder : Path
    """
    if format not in ("binary", "zarr"):
        raise InputError(f"format must be 'binary' or 'zarr', got {format!r}.")
    folder = check_output(folder, overwrite)
    check_saving_budget(recording, folder, allow_large)
    params = recording.get_annotation(PARAMS_ANNOTATION)
    chunking = {"chunk_duration", "chunk_size", "chunk_memory", "total_memory"}
    injected = isinstance(recording, InjectedUnitsAccess)  # a simulated or hybrid recording
    if injected:
        if not chunking & set(job_kwargs):
            job_kwargs["chunk_size"] = aligned_chunk_size(recording, params["recordings"]["chunk_duration"])
        # the compiled kernels loaded and the first block kept here, before workers fork and share them
        recording.get_traces(start_frame=0, end_frame=1)
    with atomic_output(folder, folder=True, overwrite=overwrite) as temporary:
        suffix = ZARR_SUFFIX if format == "zarr" else ""
        # SpikeInterface collects garbage after every chunk it writes: the objects alive now (numba's,
        # the engine's) are frozen out of those collections, and stay shared with forked workers
        gc.freeze()
        try:
            recording.save(format=format, folder=temporary / f"{RECORDING_FOLDER}{suffix}", **job_kwargs)
        finally:
            gc.unfreeze()
        sorting_format = "zarr" if format == "zarr" else "numpy_folder"
        sorting.save(format=sorting_format, folder=temporary / f"{SORTING_FOLDER}{suffix}")
        if params is not None:
            (temporary / PARAMS_FILE).write_text(yaml.safe_dump(params, sort_keys=False))
        if injected:
            write_unit_templates(recording, temporary / UNIT_TEMPLATES_FILE)
        if params is not None and params["recordings"].get("noise_mode") == "fitted":
            shutil.copyfile(params["recordings"]["noise_model"], temporary / NOISE_MODEL_FILE)  # the noise it was made with
        if params is not None and params["recordings"].get("motion"):
            shutil.copytree(params["recordings"]["motion"], temporary / MOTION_FOLDER)  # the motion the units follow
        if params is not None and params["recordings"].get("extract_waveforms"):
            _save_waveforms(temporary, format, job_kwargs)
    return folder


def _save_waveforms(folder: Path, format: str, job_kwargs: dict) -> None:
    """A SortingAnalyzer of the saved ground truth with every spike's waveform (MEArec's cut: 0.5 ms
    before, 2 ms after) and the templates, in ``analyzer/``."""
    from spikeinterface.core import create_sorting_analyzer, load

    suffix = ZARR_SUFFIX if format == "zarr" else ""
    recording, sorting = load(folder / f"{RECORDING_FOLDER}{suffix}"), load(folder / f"{SORTING_FOLDER}{suffix}")
    job_kwargs = {key: value for key, value in job_kwargs.items() if key != "chunk_size"}
    analyzer = create_sorting_analyzer(sorting, recording, format="binary_folder", folder=folder / ANALYZER_FOLDER,
                                       sparse=False, **job_kwargs)
    analyzer.compute("random_spikes", method="all")
    analyzer.compute("waveforms", ms_before=0.5, ms_after=2.0, **job_kwargs)
    analyzer.compute("templates")


def write_unit_templates(recording: InjectedUnitsAccess, file_path: Path) -> Path:
    """The units' library templates and their convolved (jitter-averaged) copies, as one library file."""
    from si_recsim.library.library_file import write_template_library

    units = recording.get_unit_template_library()
    write_template_library(units, file_path, compress=False)  # written with every save: fast rather than small
    with h5py.File(file_path, "a") as file:
        convolved = None
        for unit in range(units.num_templates):  # one unit at a time: memory bounded by a unit's templates
            template, nbefore = recording.get_convolved_template(unit)  # (n_drift_steps, n_samples, n_channels)
            if convolved is None:
                shape = (units.num_templates,) + (template.shape if template.shape[0] > 1 else template.shape[1:])
                convolved = file.create_dataset("convolved", shape=shape, dtype=np.float32)
            convolved[unit] = template if template.shape[0] > 1 else template[0]
        file.attrs["convolved_sampling_frequency"] = float(recording.sampling_frequency)
        file.attrs["convolved_nbefore"] = int(nbefore)
    return file_path


#: traces a saving worker holds per chunk at most, bytes (wide probes get shorter chunks)
CHUNK_BYTES = 64 * 2**20


def aligned_chunk_size(recording, chunk_duration: float) -> int:
    """A whole number of the recording's blocks close to ``chunk_duration`` seconds, and holding at
    most :data:`CHUNK_BYTES` of traces (at least one block), so a worker's memory is bounded by the
    block, not by the chunk duration.

    Chunks that straddle blocks make parallel workers compute the shared blocks twice.
    """
    block_size = recording.get_block_size()
    n_blocks = max(1, int(round(float(chunk_duration or 0) * recording.sampling_frequency / block_size)))
    block_bytes = block_size * recording.get_num_channels() * np.dtype(recording.get_dtype()).itemsize
    return max(1, min(n_blocks, CHUNK_BYTES // block_bytes)) * block_size


def load_ground_truth(folder: str | Path):
    """Reload a folder written by :func:`save_ground_truth`.

    SpikeInterface's loader instantiates the classes a folder's JSON names and unpickles what it
    holds, so a folder is code as much as data: this refuses, before loading, a folder whose JSON
    names classes outside ``spikeinterface``/``si_recsim``, or that holds pickles (``.pkl``, object
    arrays). Load only folders you trust.

    Returns
    -------
    recording : BaseRecording
    sorting : BaseSorting
        With every ground-truth property.
    """
    from spikeinterface.core import load

    folder = Path(folder)
    paths = []
    for name in (RECORDING_FOLDER, SORTING_FOLDER):
        found = [folder / f"{name}{suffix}" for suffix in ("", ZARR_SUFFIX) if (folder / f"{name}{suffix}").exists()]
        if not found:
            raise FileNotFoundError(f"{folder} is not a ground-truth folder: {name}/ is missing.")
        paths.append(found[0])
    for path in paths:
        refuse_foreign_code(path)
    recording, sorting = load(paths[0]), load(paths[1])
    if (folder / PARAMS_FILE).is_file():
        params = parse_yaml((folder / PARAMS_FILE).read_text(), str(folder / PARAMS_FILE))
        recording.annotate(**{PARAMS_ANNOTATION: params})
        sorting.annotate(**{PARAMS_ANNOTATION: params})
    if (folder / UNIT_TEMPLATES_FILE).is_file():
        recording.annotate(**{UNIT_TEMPLATES_ANNOTATION: str((folder / UNIT_TEMPLATES_FILE).resolve())})
    return recording, sorting


TRUSTED_MODULES = ("spikeinterface.", "si_recsim.")


def refuse_foreign_code(folder: Path) -> None:
    """Raise :class:`InputError` when ``folder`` names a class outside :data:`TRUSTED_MODULES` or holds a pickle."""
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".pkl", ".pickle"):
            raise InputError(f"{path} is a pickle, which loading would execute: si_recsim loads only folders it can "
                             "read without unpickling; re-save the folder as JSON.")
        if path.suffix == ".npy" and _npy_holds_objects(path):
            raise InputError(f"{path} holds Python objects (a pickle), which loading would execute; re-save it.")
        if path.suffix == ".json" or path.name in (".zattrs", "zarr.json"):
            try:
                tree = json.loads(path.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise InputError(f"{path} is not valid JSON ({error}).") from None
            foreign = sorted({name for name in _class_names(tree) if not name.startswith(TRUSTED_MODULES)})
            if foreign:
                raise InputError(f"{path} names classes outside spikeinterface and si_recsim ({', '.join(foreign)}), "
                                 "which loading would import and run: load it yourself if you trust it.")


def _class_names(tree) -> list[str]:
    if isinstance(tree, dict):
        own = [str(tree["class"])] if "class" in tree else []
        return own + [name for value in tree.values() for name in _class_names(value)]
    if isinstance(tree, list):
        return [name for value in tree for name in _class_names(value)]
    if isinstance(tree, str) and tree.lstrip().startswith("{") and '"class"' in tree:
        try:  # zarr attributes keep provenance as a JSON string
            return _class_names(json.loads(tree))
        except json.JSONDecodeError:
            return []
    return []


def _npy_holds_objects(path: Path) -> bool:
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            return version not in header or header[version](file)[2].hasobject
        except ValueError:
            return True
