"""Blue Brain NMC-portal cell model folders (``template.hoc``, ``morphology/``, ``mechanisms/``).

The ion-channel ``.mod`` files of the chosen folders are compiled once with ``nrnivmodl`` into a
cache folder keyed by their contents and the NEURON version, and loaded once per process. The two
synapse mechanisms ``ProbAMPANMDA_EMS`` and ``ProbGABAAB_EMS`` are replaced by one-line
declarations of the same names: templates need no synapses (they are disabled), but the models'
hoc code names them when it is parsed, and NEURON 9 cannot compile the originals. A failed
compilation raises at once with the compiler's output.

Models shipped with an installed MEArec are found by :func:`mearec_model_folders`. These models
are licensed CC BY-NC-SA 4.0 by the Blue Brain Project; si_recsim does not ship them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from si_recsim.cells.models import CellModel

SYNAPSE_MECHANISMS = ("ProbAMPANMDA_EMS", "ProbGABAAB_EMS")
_LOADED: dict[str, str] = {}  # mechanism name -> hash of its source, loaded in this process


def mearec_model_folders() -> list[Path]:
    """The NMC-portal model folders shipped with an installed MEArec (empty without MEArec)."""
    spec = importlib.util.find_spec("MEArec")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "cell_models" / "bbp"
    return sorted(path for path in folder.iterdir() if (path / "template.hoc").is_file()) if folder.is_dir() else []


def _mod_sources(folders: list[Path]) -> dict[str, str]:
    """Mechanism name → .mod source over all folders, synapse mechanisms left out."""
    sources: dict[str, str] = {}
    for folder in folders:
        for mod in sorted((folder / "mechanisms").glob("*.mod")):
            name = mod.stem
            if name in SYNAPSE_MECHANISMS:
                continue
            text = mod.read_text(errors="replace")
            if name in sources and sources[name] != text:
                raise ValueError(
                    f"Mechanism {name} differs between the chosen model folders (e.g. {folder}): simulate those "
                    "models in separate runs."
                )
            sources[name] = text
    return sources


def compile_mechanisms(folders: list[Path], cache_folder: Path) -> Path:
    """Compile the folders' mechanisms (cached) and return the folder holding the library.

    Raises
    ------
    RuntimeError
        When ``nrnivmodl`` is missing or fails; the message carries its output.
    """
    import neuron

    sources = _mod_sources(folders)
    digest = hashlib.sha1(neuron.__version__.encode())
    for name in sorted(sources):
        digest.update(name.encode() + sources[name].encode())
    target = Path(cache_folder) / "mechanisms" / digest.hexdigest()[:16]
    if (target / "x86_64").exists() or (target / "arm64").exists() or (target / "aarch64").exists():
        return target
    nrnivmodl = shutil.which("nrnivmodl") or str(Path(os.sys.executable).parent / "nrnivmodl")
    if not Path(nrnivmodl).exists():
        raise RuntimeError("nrnivmodl (NEURON's mechanism compiler) was not found: install NEURON with pip "
                           "install 'si_recsim[templates]' in this environment.")
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for name, text in sources.items():
        (building / f"{name}.mod").write_text(text)
    for name in SYNAPSE_MECHANISMS:
        (building / f"{name}.mod").write_text(f"NEURON {{ POINT_PROCESS {name} }}\n")
    completed = subprocess.run([nrnivmodl, "."], cwd=building, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"nrnivmodl failed for the mechanisms of {[str(folder) for folder in folders]}:\n"
                           f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    return target


def load_mechanisms(library_folder: Path, mechanism_names: list[str]) -> None:
    """Load a compiled library once per process; refuse a second, different one."""
    import neuron

    key = library_folder.name
    clashes = [name for name in mechanism_names if name in _LOADED and _LOADED[name] != key]
    if clashes:
        raise RuntimeError(f"Mechanisms {clashes} are already loaded from another build in this process: NEURON "
                           "cannot replace them; generate these models in a new Python process.")
    if all(name in _LOADED for name in mechanism_names):
        return
    if not neuron.load_mechanisms(str(library_folder)):
        raise RuntimeError(f"NEURON could not load the mechanisms compiled in {library_folder}.")
    for name in mechanism_names:
        _LOADED[name] = key


@contextmanager
def _working_directory(folder: Path):
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _template_name(folder: Path) -> str:
    match = re.search(r"^\s*begintemplate\s+(\S+)", (folder / "template.hoc").read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{folder / 'template.hoc'} declares no template (begintemplate).")
    return match.group(1)


def _celsius(folder: Path) -> float:
    constants = folder / "constants.hoc"
    match = re.search(r"^\s*celsius\s*=\s*([0-9.]+)", constants.read_text(), re.MULTILINE) if constants.exists() else None
    return float(match.group(1)) if match else 34.0


def _make_nmc_cell(folder: Path, library_folder: Path, mechanism_names: tuple, dt: float, tstop: float):
    import LFPy
    from neuron import h

    load_mechanisms(library_folder, list(mechanism_names) + list(SYNAPSE_MECHANISMS))
    morphologies = sorted((folder / "morphology").glob("*.asc")) + sorted((folder / "morphology").glob("*.swc"))
    if not morphologies:
        raise ValueError(f"{folder}/morphology has no .asc or .swc file.")
    with _working_directory(folder):
        h.load_file("stdrun.hoc")
        h.load_file("import3d.hoc")
        template_name = _template_name(folder)
        if not hasattr(h, template_name):
            h.load_file(str(folder / "template.hoc"))
        cell = LFPy.TemplateCell(morphology=str(morphologies[0]), templatefile=str(folder / "template.hoc"),
                                 templatename=template_name, templateargs=0, dt=dt, tstart=0.0, tstop=tstop,
                                 v_init=-70.0, pt3d=True, delete_sections=True)
    return cell


def nmc_cell_models(folders, cache_folder: str | Path | None = None) -> list[CellModel]:
    """Cell models from NMC-portal folders, their mechanisms compiled (once) into the cache.

    Parameters
    ----------
    folders : list of str | Path
        Model folders (each with ``template.hoc``, ``morphology/`` and ``mechanisms/``).
    cache_folder : str | Path | None, default: None
        Where compiled mechanisms are kept (``$SI_RECSIM_CACHE`` or ``~/.cache/si_recsim``).

    Returns
    -------
    models : list of CellModel
        Named after their folders, at the temperature of their ``constants.hoc``.
    """
    from si_recsim.cells.intracellular import default_cache_folder

    folders = [Path(folder).resolve() for folder in folders]
    for folder in folders:
        missing = [item for item in ("template.hoc", "morphology", "mechanisms") if not (folder / item).exists()]
        if missing:
            raise ValueError(f"{folder} is not an NMC-portal model folder: missing {missing}.")
    library_folder = compile_mechanisms(folders, Path(cache_folder) if cache_folder else default_cache_folder())
    names = tuple(sorted(_mod_sources(folders)))
    models = []
    for folder in folders:
        fingerprint = hashlib.sha1(b"".join(path.read_bytes() for path in sorted(folder.rglob("*"))
                                            if path.is_file() and path.suffix in (".hoc", ".asc", ".swc", ".mod")))
        models.append(CellModel(name=folder.name, make_cell=partial(_make_nmc_cell, folder, library_folder, names),
                                celsius=_celsius(folder), description=f"NMC-portal model {folder}",
                                fingerprint=fingerprint.hexdigest()))
    return models
