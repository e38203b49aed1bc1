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
from pathlib import Path

import numpy as np
from probeinterface import Probe

from si_recsim.errors import InputError
from si_recsim.library.cell_bank import bank_file_identity, cell_bank_classes
from si_recsim.library.cell_placement import BankCurrents, library_contact_points, place_cells
from si_recsim.library.default import bank_path, default_cache_folder
from si_recsim.library.library_file import read_template_library, write_template_library
from si_recsim.library.placement import PlacementSettings, cell_potentials, recentre
from si_recsim.library.template_library import TemplateLibrary
from si_recsim.params.templates import TemplateParameters, build_template_params
from si_recsim.probes import available_probe_names, neuropixels_part_numbers, probe_from_name

#: placement of the cells that become units (MEArec's defaults, contact-surface averaging)
NEAR = dict(xlim=[10, 80])
#: placement of the background cells of far-neurons noise: any amplitude, contact centres only
FAR = dict(xlim=[100, 300], min_amp=0, check_eap_shape=False, ncontacts=1)
#: near cells placed per unit a recording asks for, spread over the bank's models of the unit's class
#: (about half land in the default amplitude window; selection also needs room for min_dist)
NEAR_PER_UNIT = 4
#: near cells per model at least, so that every model is represented
NEAR_MIN_PER_MODEL = 10
#: probes with more contacts than this use the contact centres (1 point) instead of MEArec's average
#: over 10 points per contact surface: ten times cheaper, amplitudes within a few percent
SURFACE_AVERAGE_MAX_CONTACTS = 128
_CACHE_VERSION = 3  # of what a cached library holds and how it is computed


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


def near_counts(bank: str | Path, n_exc: int, n_inh: int) -> dict[str, int]:
    """Near cells per model of ``bank`` for a recording of ``n_exc`` excitatory and ``n_inh`` inhibitory
    units: :data:`NEAR_PER_UNIT` per unit of the model's class, spread over the models of that class
    (models of unknown class count as inhibitory), at least :data:`NEAR_MIN_PER_MODEL`."""
    classes = cell_bank_classes(bank_path(bank))
    excitatory = [name for name, kind in classes.items() if kind == "E"]
    wanted = {name: (n_exc if name in excitatory else n_inh) for name in classes}
    sizes = {name: len(excitatory) if name in excitatory else len(classes) - len(excitatory) for name in classes}
    return {name: max(NEAR_MIN_PER_MODEL, int(np.ceil(NEAR_PER_UNIT * wanted[name] / sizes[name])))
            for name in classes}


def bank_library_spec(probe: Probe | str, bank: str | Path = "default", seed: int = 0, n_exc: int = 7,
                      n_inh: int = 3, n_far: int = 0, ncontacts: int | None = None) -> dict:
    """The description of a library computed from ``bank`` for ``probe``.

    Parameters
    ----------
    probe : Probe | str
        A probeinterface probe or a probe name (MEArec name or Neuropixels part number).
    bank : str | Path, default: "default"
    seed : int, default: 0
        Library seed (positions, rotations, spikes).
    n_exc, n_inh : int, default: 7, 3
        Units the recording will select: the near cells per model follow them (:func:`near_counts`).
    n_far : int, default: 0
        Background cells wanted in total (far-neurons noise); 0: none.
    ncontacts : int | None, default: None
        Points averaged over each contact surface for the near cells; None: 10 (MEArec's default),
        or 1 for probes of more than :data:`SURFACE_AVERAGE_MAX_CONTACTS` contacts.
    """
    probe_description = probe_spec(probe)
    resolved = spec_probe(probe_description)
    n_near = near_counts(bank, int(n_exc), int(n_inh))
    if ncontacts is None:
        ncontacts = 10 if resolved.get_contact_count() <= SURFACE_AVERAGE_MAX_CONTACTS else 1
    return {"bank": str(bank), "probe": probe_description, "seed": int(seed), "n_near": n_near, "n_far": int(n_far),
            "ncontacts": int(ncontacts)}


def library_from_bank(spec: dict, cache_folder: str | Path | None = None) -> TemplateLibrary:
    """The library a :func:`bank_library_spec` describes, from the cache or computed (then cached).

    Parameters
    ----------
    spec : dict
    cache_folder : str | Path | None, default: None
        ``$SI_RECSIM_CACHE`` or ``~/.cache/si_recsim`` when None.
    """
    path = bank_path(spec["bank"])
    inputs = dict(spec, bank_file=bank_file_identity(path), near=NEAR, far=FAR, version=_CACHE_VERSION)
    key = hashlib.sha1(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = Path(cache_folder) if cache_folder is not None else default_cache_folder()
    cached = folder / "libraries" / f"{key}.h5"
    if cached.exists():
        library = read_template_library(cached)
    else:
        library = _compute(spec, path)
        write_template_library(library, cached, overwrite=True)  # another process may have cached it meanwhile
    library.spec = spec
    return library


def _compute(spec: dict, path: Path) -> TemplateLibrary:
    probe = spec_probe(spec["probe"])
    names = list(cell_bank_classes(path))
    source = BankCurrents(path, names)
    counts = spec["n_near"]
    parts = [place_cells(BankCurrents(path, [name for name in names if counts[name] == n]), probe,
                         _part_params(spec, "near", n=n), progress_bar=False)
             for n in sorted(set(counts.values()))]
    n_near_templates = sum(part.num_templates for part in parts)
    if spec["n_far"]:
        n_far = int(np.ceil(2 * spec["n_far"] / len(names)))  # twice the need: some far cells are still large
        parts.append(place_cells(source, probe, _part_params(spec, "far", n=n_far), progress_bar=False))
    first = parts[0]
    return TemplateLibrary(
        templates=np.concatenate([part.templates for part in parts]),
        locations=np.concatenate([part.locations for part in parts]),
        cell_models=np.concatenate([part.cell_models for part in parts]),
        rotations=np.concatenate([part.rotations for part in parts]),
        spike_indices=np.concatenate([part.spike_indices for part in parts]),
        sampling_frequency=first.sampling_frequency, nbefore=first.nbefore, probe=probe,
        source=f"cell bank {spec['bank']} on {probe.model_name or 'the probe'} (seed {spec['seed']})",
        info=dict(spec=spec, n_near_templates=n_near_templates, parts=[part.info for part in parts]))


def _part_params(spec: dict, part: str, n: int = 1) -> TemplateParameters:
    """Placement parameters of the near or far cells of a library spec, ``n`` cells per model (the
    number does not change a cell's placement stream)."""
    if part == "near":
        return build_template_params(NEAR, n=n, seed=spec["seed"], ncontacts=spec["ncontacts"])
    return build_template_params(FAR, n=n, seed=spec["seed"] + 1)


#: largest distance between two positions of an on-demand drift trajectory, µm
DRIFT_STEP_UM = 2.0


def is_bank_library(library: TemplateLibrary) -> bool:
    """Whether ``library`` was computed from a cell bank (so its templates can be recomputed anywhere)."""
    return isinstance(library.spec, dict) and "bank" in library.spec and library.spike_indices is not None


def drift_trajectories(locations: np.ndarray, direction: np.ndarray, length_um: float) -> np.ndarray:
    """(n_units, n_steps, 3) µm: straight lines of ``length_um`` along ``direction`` (unit vector), centred
    on each location, in steps of at most :data:`DRIFT_STEP_UM` and an odd number of them, so that the
    middle step is the location itself."""
    n_steps = int(np.ceil(length_um / DRIFT_STEP_UM)) + 1
    n_steps += 1 - n_steps % 2
    offsets = np.linspace(-length_um / 2.0, length_um / 2.0, n_steps)
    return np.asarray(locations, dtype=float)[:, None, :] + offsets[None, :, None] * np.asarray(direction)[None, None]


def templates_along(library: TemplateLibrary, template_ids: np.ndarray, trajectories: np.ndarray) -> np.ndarray:
    """Templates of rows ``template_ids`` of a bank library with each cell moved along its trajectory.

    Each position is computed as the library's own template was (same spike, rotation, contact
    points and volume conductor), so the step at the library location reproduces it.

    Returns
    -------
    templates : np.ndarray
        (n_units, n_steps, n_samples, n_channels) float32, µV.
    """
    if not is_bank_library(library):
        raise InputError("Templates along a trajectory need a library computed from a cell bank.")
    spec, probe = library.spec, library.probe
    bank = BankCurrents(bank_path(spec["bank"]), sorted(set(library.cell_models[template_ids])))
    n_near_rows = int(library.info["n_near_templates"])
    placements = {}
    templates = np.empty((len(template_ids), trajectories.shape[1], library.templates.shape[-2], library.num_channels),
                         dtype=np.float32)
    for unit, row in enumerate(template_ids):
        part = "near" if row < n_near_rows else "far"
        if part not in placements:
            params = _part_params(spec, part)
            placements[part] = (PlacementSettings.from_params(params), library_contact_points(probe, params))
        settings, points = placements[part]
        cell = bank.currents(library.cell_models[row])
        for step, position in enumerate(trajectories[unit]):
            potentials = cell_potentials(cell, int(library.spike_indices[row]), position, library.rotations[row], points,
                                         probe, settings)
            templates[unit, step] = recentre(potentials, cell.nbefore).T
    return templates
