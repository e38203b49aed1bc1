"""Template libraries for any probe, computed on demand from a cell bank and cached by their inputs.

A recording on a probe the packaged library was not made for gets its templates from a cell bank:
cells placed in front of that probe by MEArec's rules (:mod:`si_recsim.library.cell_placement`),
``near`` cells (10-80 µm from the probe) for the units and, for ``far-neurons`` noise, ``far`` cells
(100-300 µm, no amplitude threshold) for the background. The library is described by a small
JSON-friendly *spec* (bank, probe, counts, seed), so a recording that uses it serialises in a few
hundred bytes and rebuilds anywhere; the computed library is kept in the cache folder
(``$SI_RECSIM_CACHE/libraries`` or ``~/.cache/si_recsim/libraries``) under a hash of everything it
depends on, so workers and reloads read it instead of computing it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from probeinterface import Probe

from si_recsim.library.cell_bank import read_cell_bank
from si_recsim.library.cell_placement import BankCurrents, place_cells
from si_recsim.library.default import bank_path
from si_recsim.library.library_file import read_template_library, write_template_library
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.templates import build_template_params
from si_recsim.probes import available_probe_names, neuropixels_part_numbers, probe_from_name

#: placement of the cells that become units (MEArec's defaults, contact-surface averaging)
NEAR = dict(xlim=[10, 80])
#: placement of the background cells of far-neurons noise: any amplitude, contact centres only
FAR = dict(xlim=[100, 300], min_amp=0, check_eap_shape=False, ncontacts=1)
#: near cells per model and 100 µm of probe length, and the bounds on that count
NEAR_PER_100_UM = 6
NEAR_LIMITS = (20, 120)


def probe_spec(probe: Probe | str) -> str | dict:
    """A probe as a JSON-friendly description: its name when it is a named probe, else its dict."""
    if isinstance(probe, str):
        if probe not in available_probe_names() and probe not in neuropixels_part_numbers():
            probe_from_name(probe)  # raises the error that lists the names
        return probe
    return probe.to_dict(array_as_list=True)


def spec_probe(spec: str | dict) -> Probe:
    """The probe of a :func:`probe_spec` description, wired one-to-one."""
    probe = probe_from_name(spec) if isinstance(spec, str) else Probe.from_dict(spec)
    probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
    return probe


def near_templates_per_model(probe: Probe) -> int:
    """Near cells per model: :data:`NEAR_PER_100_UM` per 100 µm of the probe's length, within :data:`NEAR_LIMITS`."""
    positions = np.asarray(probe.contact_positions, dtype=float)
    length = float(np.ptp(positions[:, 1])) + 60.0  # the placement overhang on both ends
    return int(np.clip(np.ceil(NEAR_PER_100_UM * length / 100.0), *NEAR_LIMITS))


def bank_library_spec(probe: Probe | str, bank: str | Path = "default", seed: int = 0, n_far: int = 0,
                      n_near: int | None = None) -> dict:
    """The description of a library computed from ``bank`` for ``probe``.

    Parameters
    ----------
    probe : Probe | str
        A probeinterface probe or a probe name (MEArec name or Neuropixels part number).
    bank : str | Path, default: "default"
    seed : int, default: 0
        Library seed (positions, rotations, spikes).
    n_far : int, default: 0
        Background cells wanted in total (far-neurons noise); 0: none.
    n_near : int | None, default: None
        Near cells per model; None: :func:`near_templates_per_model`.
    """
    probe_description = probe_spec(probe)
    n_near = near_templates_per_model(spec_probe(probe_description)) if n_near is None else int(n_near)
    return {"bank": str(bank), "probe": probe_description, "seed": int(seed), "n_near": n_near, "n_far": int(n_far)}


def library_from_bank(spec: dict, cache_folder: str | Path | None = None) -> TemplateLibrary:
    """The library a :func:`bank_library_spec` describes, from the cache or computed (then cached).

    Parameters
    ----------
    spec : dict
    cache_folder : str | Path | None, default: None
        ``$SI_RECSIM_CACHE`` or ``~/.cache/si_recsim`` when None.
    """
    path = bank_path(spec["bank"])
    stat = path.stat()
    key = hashlib.sha1(json.dumps(dict(spec, bank_file=str(path.resolve()), bank_size=stat.st_size,
                                       bank_modified=stat.st_mtime_ns, near=NEAR, far=FAR), sort_keys=True,
                                  default=str).encode()).hexdigest()[:16]
    folder = Path(cache_folder) if cache_folder is not None else Path(
        os.environ.get("SI_RECSIM_CACHE", Path.home() / ".cache" / "si_recsim"))
    cached = folder / "libraries" / f"{key}.h5"
    if cached.exists():
        library = read_template_library(cached)
    else:
        library = _compute(spec, path)
        write_template_library(library, cached)
    library.spec = spec
    return library


def _compute(spec: dict, path: Path) -> TemplateLibrary:
    probe = spec_probe(spec["probe"])
    names = read_cell_bank(path).model_names
    source = BankCurrents(path, names)
    parts = [place_cells(source, probe, build_template_params(NEAR, n=spec["n_near"], seed=spec["seed"]),
                         progress_bar=False)]
    if spec["n_far"]:
        n_far = int(np.ceil(2 * spec["n_far"] / len(names)))  # twice the need: some far cells are still large
        parts.append(place_cells(source, probe, build_template_params(FAR, n=n_far, seed=spec["seed"] + 1),
                                 progress_bar=False))
    first = parts[0]
    return TemplateLibrary(
        templates=np.concatenate([part.templates for part in parts]),
        locations=np.concatenate([part.locations for part in parts]),
        cell_models=np.concatenate([part.cell_models for part in parts]),
        rotations=np.concatenate([part.rotations for part in parts]),
        sampling_frequency=first.sampling_frequency, nbefore=first.nbefore, probe=probe,
        source=f"cell bank {spec['bank']} on {probe.model_name or 'the probe'} (seed {spec['seed']})",
        info=dict(spec=spec, near=first.info, far=parts[1].info if len(parts) > 1 else None))
