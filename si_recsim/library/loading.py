"""One entry point from a library description (a name, a file, arrays) to a :class:`TemplateLibrary`.

The last libraries loaded by description (a name, an analytic or bank description, a file path with
its size and modification time) are kept in memory, so that a ground-truth sorting and its
recording, built from the same description, load it once. Their arrays are read-only.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
from probeinterface import Probe

from si_recsim.errors import InputError
from si_recsim.library.analytic import make_analytic_library
from si_recsim.library.bank_library import library_from_bank
from si_recsim.library.default import DEFAULT_LIBRARY, default_library_path
from si_recsim.library.library_file import is_template_library_file, read_template_library
from si_recsim.library.mearec_templates import read_mearec_templates
from si_recsim.library.template_library import TemplateLibrary

_LOADED: OrderedDict = OrderedDict()
_KEEP = 2


def _description_key(spec) -> str | None:
    """A key identifying what ``spec`` loads, or None for libraries given by their arrays."""
    if isinstance(spec, dict):
        if "analytic" not in spec and "bank" not in spec:
            return None
        try:
            return json.dumps(spec, sort_keys=True, default=str)
        except (TypeError, ValueError):
            return None
    if str(spec) == DEFAULT_LIBRARY:
        return DEFAULT_LIBRARY
    path = Path(spec)
    if not path.is_file():
        return None
    status = path.stat()
    return json.dumps([str(path.resolve()), status.st_size, status.st_mtime_ns])


def remember_library(library: TemplateLibrary) -> None:
    """Keep ``library`` as what its own description loads (a library built in this process)."""
    key = _description_key(library.spec) if library.spec is not None else None
    if key is not None:
        _keep(key, library)


def _keep(key: str, library: TemplateLibrary) -> None:
    for array in (library.templates, library.locations):
        array.flags.writeable = False
    _LOADED[key] = library
    _LOADED.move_to_end(key)
    while len(_LOADED) > _KEEP:
        _LOADED.popitem(last=False)


def load_template_library(spec: str | Path | dict | TemplateLibrary) -> TemplateLibrary:
    """Rebuild a library from its spec.

    Parameters
    ----------
    spec : str | Path | dict | TemplateLibrary
        ``"default"`` for the embedded default library (built-in cell models on Neuronexus-32);
        ``{"analytic": {...}}`` for an analytic library with the arguments of
        :func:`make_analytic_library`; ``{"bank": ..., "probe": ..., ...}`` for a library computed
        from a cell bank for a probe (:func:`si_recsim.library.bank_library.bank_library_spec`); a path to an si_recsim
        library or a MEArec template file (``.h5``); a dictionary of arrays as made by
        :meth:`TemplateLibrary.to_spec`; or a library (returned as is).

    Returns
    -------
    library : TemplateLibrary
    """
    if isinstance(spec, TemplateLibrary):
        return spec
    key = _description_key(spec)
    if key is not None and key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    library = _load(spec)
    if key is not None:
        _keep(key, library)
    return library


def _load(spec: str | Path | dict) -> TemplateLibrary:
    if isinstance(spec, dict) and "analytic" in spec:
        return make_analytic_library(**spec["analytic"])
    if isinstance(spec, dict) and "bank" in spec:
        return library_from_bank(spec)
    if isinstance(spec, dict):
        return TemplateLibrary(
            templates=np.asarray(spec["templates"], dtype=np.float32), locations=spec["locations"],
            cell_models=spec["cell_models"], sampling_frequency=spec["sampling_frequency"], nbefore=spec["nbefore"],
            probe=Probe.from_dict(spec["probe"]),
            rotations=None if spec.get("rotations") is None else np.asarray(spec["rotations"]),
            source=spec.get("source", ""),
        )
    if str(spec) == DEFAULT_LIBRARY:
        library = read_template_library(default_library_path())
        library.spec = DEFAULT_LIBRARY
        return library
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"Template library {path} does not exist: pass an si_recsim library or a MEArec "
            "template file (.h5), or 'default'."
        )
    if path.suffix.lower() in (".h5", ".hdf5"):
        return read_template_library(path) if is_template_library_file(path) else read_mearec_templates(path)
    raise InputError(f"Unknown template library format {path.suffix!r} for {path}: use an si_recsim library or a "
                     "MEArec template file (.h5).")


def library_reference(library: str | Path | dict | TemplateLibrary) -> dict:
    """How an extractor refers to a library: ``{"template_library": name or arrays, "template_library_path": path}``.

    Files are referenced by absolute path (under a ``*_path`` key, which SpikeInterface can make
    relative or mount), names and analytic libraries by their description, libraries held only in
    memory by their arrays.
    """
    if isinstance(library, TemplateLibrary):
        library = library.to_spec()
    if isinstance(library, dict) or str(library) == DEFAULT_LIBRARY:
        return dict(template_library=library, template_library_path=None)
    return dict(template_library=None, template_library_path=str(Path(library).resolve()))
