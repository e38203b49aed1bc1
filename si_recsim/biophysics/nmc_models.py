"""Blue Brain NMC-portal cell model folders (``template.hoc``, ``morphology/``, ``mechanisms/``).

The ion-channel ``.mod`` files of the chosen folders are compiled once with ``nrnivmodl`` into a
cache folder keyed by their contents and the NEURON version; a process loads each mechanism once
and later needs only compile and load the mechanisms it lacks. The two
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
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from si_recsim.atomic import atomic_output
from si_recsim.biophysics.cell_models import CellModel
from si_recsim.errors import InputError, SetupError

SYNAPSE_MECHANISMS = ("ProbAMPANMDA_EMS", "ProbGABAAB_EMS")
_LOADED: dict[str, str] = {}  # mechanism name -> hash of the source loaded in this process


def mearec_model_folders() -> list[Path]:
    """The NMC-portal model folders shipped with an installed MEArec (empty without MEArec)."""
    spec = importlib.util.find_spec("MEArec")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "cell_models" / "bbp"
    return sorted(path for path in folder.iterdir() if (path / "template.hoc").is_file()) if folder.is_dir() else []


def mechanism_sources(folders: list[Path]) -> dict[str, str]:
    """Mechanism name → .mod source over all folders; the synapse mechanisms are one-line stand-ins."""
    sources: dict[str, str] = {name: f"NEURON {{ POINT_PROCESS {name} }}\n" for name in SYNAPSE_MECHANISMS}
    for folder in folders:
        for mod in sorted((folder / "mechanisms").glob("*.mod")):
            name = mod.stem
            if name in SYNAPSE_MECHANISMS:
                continue
            text = mod.read_text(errors="replace")
            if name in sources and sources[name] != text:
                raise InputError(
                    f"Mechanism {name} differs between the chosen model folders (e.g. {folder}): simulate those "
                    "models in separate runs."
                )
            sources[name] = text
    return sources


def _source_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def compile_mechanisms(sources: dict[str, str], cache_folder: Path) -> Path:
    """Compile mechanisms (cached by content and NEURON version); return the library's folder.

    Raises
    ------
    RuntimeError
        When ``nrnivmodl`` is missing or fails; the message carries its output.
    """
    import neuron

    digest = hashlib.sha1(neuron.__version__.encode())
    for name in sorted(sources):
        digest.update(name.encode() + sources[name].encode())
    target = Path(cache_folder) / "mechanisms" / digest.hexdigest()[:16]
    if any((target / arch).exists() for arch in ("x86_64", "arm64", "aarch64")):
        return target
    nrnivmodl = shutil.which("nrnivmodl") or str(Path(sys.executable).parent / "nrnivmodl")
    if not Path(nrnivmodl).exists():
        raise SetupError("nrnivmodl (NEURON's mechanism compiler) was not found: install NEURON with pip "
                           "install 'si_recsim[templates]' in this environment.")
    with atomic_output(target, folder=True, keep_existing=True) as building:  # concurrent builds keep the first
        for name, text in sources.items():
            (building / f"{name}.mod").write_text(text)
        completed = subprocess.run([nrnivmodl, "."], cwd=building, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise SetupError(f"nrnivmodl failed for mechanisms {sorted(sources)}:\n"
                               f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return target


def ensure_mechanisms(sources: dict[str, str], cache_folder: Path) -> None:
    """Make ``sources`` available in this process, compiling and loading only what is missing.

    NEURON cannot load a mechanism name twice, so mechanisms already loaded with the same source are
    reused and the others are compiled (cached) into a library of their own; a name loaded with a
    different source cannot be replaced.
    """
    import neuron

    clashes = [name for name, text in sources.items() if _LOADED.get(name, _source_hash(text)) != _source_hash(text)]
    if clashes:
        raise SetupError(f"Mechanisms {clashes} are already loaded with other code in this process: NEURON cannot "
                           "replace them; generate these models in a new Python process.")
    missing = {name: text for name, text in sources.items() if name not in _LOADED}
    if not missing:
        return
    library = compile_mechanisms(missing, cache_folder)
    if not neuron.load_mechanisms(str(library)):
        raise SetupError(f"NEURON could not load the mechanisms compiled in {library}.")
    _LOADED.update({name: _source_hash(text) for name, text in missing.items()})


@contextmanager
def _working_directory(folder: Path):
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


_MODEL_FILES = ("morphology.hoc", "biophysics.hoc", "synapses/synapses.hoc", "template.hoc")
_TEMPLATES: dict[str, str] = {}  # hoc template name -> hash of the file that defined it in this process


def _normalised_code(text: str) -> str:
    """hoc code without comments and trailing spaces (models of one e-type share a biophysics
    template whose files differ only in those)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return "\n".join(line.split("//")[0].rstrip() for line in text.splitlines())


def _template_names(text: str) -> list[str]:
    return re.findall(r"^\s*begintemplate\s+(\S+)", text, re.MULTILINE)


def _template_name(folder: Path) -> str:
    names = _template_names((folder / "template.hoc").read_text())
    if not names:
        raise InputError(f"{folder / 'template.hoc'} declares no template (begintemplate).")
    return names[0]


def _load_model_templates(folder: Path) -> None:
    """Define a model's hoc templates that this process does not have yet.

    Every model folder has its own ``morphology.hoc`` and ``biophysics.hoc``, which
    ``template.hoc`` loads by relative name; NEURON's ``load_file`` skips a name it has loaded
    before, so the second model of a run would get the first one's morphology. Here each file's
    code is executed directly, without its ``load_file`` lines, when its templates are missing. A
    template name already defined by different code cannot be replaced.
    """
    from neuron import h

    for relative in _MODEL_FILES:
        path = folder / relative
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        digest = hashlib.sha1(_normalised_code(text).encode()).hexdigest()
        names = _template_names(text)
        clashes = [name for name in names if _TEMPLATES.get(name, digest) != digest]
        if clashes:
            raise SetupError(f"hoc templates {clashes} of {path} are already defined differently in this process; "
                               "NEURON cannot replace them: simulate this model in a new Python process.")
        if any(not hasattr(h, name) for name in names):
            code = re.sub(r"^\s*load_file\(.*$", "", text, flags=re.MULTILINE)
            if not h(code):
                raise SetupError(f"NEURON could not execute {path}.")
            _TEMPLATES.update({name: digest for name in names})


def _celsius(folder: Path) -> float:
    constants = folder / "constants.hoc"
    match = re.search(r"^\s*celsius\s*=\s*([0-9.]+)", constants.read_text(), re.MULTILINE) if constants.exists() else None
    return float(match.group(1)) if match else 34.0


def _make_nmc_cell(folder: Path, sources: dict, cache_folder: Path, dt: float, tstop: float):
    import LFPy
    from neuron import h

    ensure_mechanisms(sources, cache_folder)
    morphologies = sorted((folder / "morphology").glob("*.asc")) + sorted((folder / "morphology").glob("*.swc"))
    if not morphologies:
        raise InputError(f"{folder}/morphology has no .asc or .swc file.")
    with _working_directory(folder):
        h.load_file("stdrun.hoc")
        h.load_file("import3d.hoc")
        _load_model_templates(folder)
        cell = LFPy.TemplateCell(morphology=str(morphologies[0]), templatefile=str(folder / "template.hoc"),
                                 templatename=_template_name(folder), templateargs=0, dt=dt, tstart=0.0, tstop=tstop,
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
    from si_recsim.library.default import default_cache_folder

    folders = [Path(folder).resolve() for folder in folders]
    for folder in folders:
        missing = [item for item in ("template.hoc", "morphology", "mechanisms") if not (folder / item).exists()]
        if missing:
            raise InputError(f"{folder} is not an NMC-portal model folder: missing {missing}.")
    cache_folder = Path(cache_folder) if cache_folder else default_cache_folder()
    sources = mechanism_sources(folders)
    compile_mechanisms(sources, cache_folder)  # fails here, at once, if the mechanisms do not compile
    models = []
    for folder in folders:
        fingerprint = hashlib.sha1(b"".join(path.read_bytes() for path in sorted(folder.rglob("*"))
                                            if path.is_file() and path.suffix in (".hoc", ".asc", ".swc", ".mod")))
        models.append(CellModel(name=folder.name, make_cell=partial(_make_nmc_cell, folder, sources, cache_folder),
                                celsius=_celsius(folder), description=f"NMC-portal model {folder}",
                                fingerprint=fingerprint.hexdigest()))
    return models
