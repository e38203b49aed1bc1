"""Cell models: anything that can build an LFPy cell.

A :class:`CellModel` is a name, a temperature and a function ``make_cell(dt, tstop)`` returning an
``LFPy.Cell`` whose soma section names contain ``"soma"``. That is the plug-in point for any model
(Blue Brain NMC-portal folders, Allen Cell Types, NeuroML, ...): wrap its loading code in such a
function. NEURON and LFPy are imported only inside those functions, so ``import si_recsim`` does
not need them.

The built-in models need no compilation: only NEURON's built-in ``hh`` and ``pas`` mechanisms, on
morphologies built in code with the apical axis along +y (the probe's long axis in si_recsim's
frame). Hodgkin-Huxley kinetics scale with temperature (Q10 = 3), which sets both the spike width
and the lowest rate of repetitive firing under a current step:

* ``builtin_PC``: pyramidal cell (excitatory): large soma, apical tuft, basal dendrites, axon;
  weakly active dendrites; 5 °C: wide spikes, firing from about 43 Hz, MEArec's 3-50 spike window;
* ``builtin_MC``: Martinotti-like interneuron (inhibitory): ascending dendrites, passive; 10 °C:
  intermediate spikes, firing from about 65 Hz, spike window 3-150;
* ``builtin_BC``: basket-like interneuron (inhibitory): compact star-shaped, weakly active
  dendrites; 14 °C: narrow spikes, firing from about 85 Hz, spike window 3-150.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from si_recsim.errors import InputError


@dataclass(frozen=True)
class CellModel:
    """A cell model that template generation can simulate.

    Attributes
    ----------
    name : str
        Cell model name (E/I categories come from the ``cell_types`` substrings).
    make_cell : callable
        ``make_cell(dt, tstop) -> LFPy.Cell``; dt and tstop in ms. The cell's apical axis should
        point along +y, the probe's long axis in si_recsim's frame. It must be picklable (a
        module-level function or a ``functools.partial`` of one) to run with ``n_jobs > 1``.
    celsius : float, default: 34.0
        Temperature set in NEURON before simulating, °C.
    description : str, default: ""
    target_spikes : tuple | None, default: None
        The model's own spike window for the current-step calibration, replacing the settings'
        ``target_spikes`` (fast-spiking cells fire above MEArec's 50 spikes/s under a step).
    fingerprint : str, default: ""
        Anything that distinguishes versions of a model with the same name; part of the cache key.
    """

    name: str
    make_cell: Callable
    celsius: float = 34.0
    description: str = ""
    target_spikes: tuple | None = None
    fingerprint: str = ""


# ------------------------------------------------------------------------------------------------
# built-in models
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Branch:
    name: str
    parent: str
    direction: tuple
    length: float
    diameter: float
    active: bool = False
    from_parent_end: bool = True


@dataclass(frozen=True)
class _Design:
    soma_diameter: float
    branches: tuple
    gnabar: float = 0.12
    gkbar: float = 0.036
    axon_gnabar_factor: float = 1.5
    passive_conductance: float = 1.0 / 30000.0
    axial_resistance: float = 150.0
    dendritic_density: float = 0.0  # hh conductances of dendrites, as a fraction of the soma's


_DESIGNS = {
    "builtin_PC": (5.0, (3, 50), "pyramidal cell (excitatory), wide spikes", _Design(
        soma_diameter=30.0, dendritic_density=0.25,
        branches=(
            _Branch("apic[0]", "soma", (0.0, 1.0, 0.0), 300.0, 8.0),
            _Branch("apic[1]", "apic[0]", (0.25, 1.0, 0.15), 300.0, 5.0),
            _Branch("apic[2]", "apic[0]", (-0.6, 1.0, -0.2), 150.0, 3.0),
            _Branch("dend[0]", "soma", (0.8, -1.0, 0.1), 150.0, 3.0, from_parent_end=False),
            _Branch("dend[1]", "soma", (-0.8, -1.0, -0.2), 150.0, 3.0, from_parent_end=False),
            _Branch("dend[2]", "soma", (0.1, -1.0, 0.9), 120.0, 3.0, from_parent_end=False),
            _Branch("axon[0]", "soma", (0.05, -1.0, 0.0), 400.0, 2.0, active=True, from_parent_end=False),
        ))),
    "builtin_MC": (10.0, (3, 150), "Martinotti-like interneuron (inhibitory), intermediate spikes", _Design(
        soma_diameter=20.0, gnabar=0.2,
        branches=(
            _Branch("dend[0]", "soma", (0.3, 1.0, 0.1), 250.0, 2.2),
            _Branch("dend[1]", "soma", (-0.4, 1.0, -0.2), 200.0, 1.8),
            _Branch("dend[2]", "soma", (0.9, -0.5, 0.3), 120.0, 1.5, from_parent_end=False),
            _Branch("dend[3]", "soma", (-0.9, -0.6, 0.0), 120.0, 1.5, from_parent_end=False),
            _Branch("axon[0]", "soma", (0.0, 1.0, 0.4), 350.0, 1.2, active=True),
        ))),
    "builtin_BC": (14.0, (3, 150), "basket-like interneuron (inhibitory), narrow spikes", _Design(
        soma_diameter=20.0, gnabar=0.3, dendritic_density=0.25,
        branches=(
            _Branch("dend[0]", "soma", (1.0, 1.0, 0.0), 120.0, 2.4),
            _Branch("dend[1]", "soma", (-1.0, 1.0, 0.3), 120.0, 2.4),
            _Branch("dend[2]", "soma", (1.0, -1.0, -0.3), 120.0, 2.4, from_parent_end=False),
            _Branch("dend[3]", "soma", (-1.0, -1.0, 0.0), 120.0, 2.4, from_parent_end=False),
            _Branch("dend[4]", "soma", (0.0, 0.3, 1.0), 100.0, 2.4),
            _Branch("axon[0]", "soma", (0.1, -1.0, 0.3), 300.0, 1.6, active=True, from_parent_end=False),
        ))),
}

BUILTIN_MODEL_NAMES = tuple(_DESIGNS)


def builtin_cell_model(name: str) -> CellModel:
    """One of the built-in models (:data:`BUILTIN_MODEL_NAMES`)."""
    if name not in _DESIGNS:
        raise InputError(f"Unknown built-in cell model {name!r}; available: {', '.join(BUILTIN_MODEL_NAMES)}.")
    celsius, target_spikes, description, design = _DESIGNS[name]
    return CellModel(name=name, make_cell=partial(_instantiate, design), celsius=celsius, description=description,
                     target_spikes=target_spikes, fingerprint=repr(design))


def builtin_cell_models() -> list[CellModel]:
    """All built-in models, in name order."""
    return [builtin_cell_model(name) for name in sorted(BUILTIN_MODEL_NAMES)]


_MAX_SEGMENT_LENGTH = 20.0  # µm, well below the length constants of these passive dendrites


def _segments_for(length: float) -> int:
    """Odd number of segments, each at most :data:`_MAX_SEGMENT_LENGTH` long."""
    count = int(np.ceil(length / _MAX_SEGMENT_LENGTH))
    return count + (count + 1) % 2


def _instantiate(design: _Design, dt: float, tstop: float):
    import LFPy
    from neuron import h

    sections = {}
    soma = h.Section(name="soma")
    radius = design.soma_diameter / 2.0
    soma.pt3dclear()
    soma.pt3dadd(0.0, -radius, 0.0, design.soma_diameter)
    soma.pt3dadd(0.0, radius, 0.0, design.soma_diameter)
    sections["soma"] = soma
    ends = {"soma": (np.array([0.0, -radius, 0.0]), np.array([0.0, radius, 0.0]))}
    for branch in design.branches:
        parent = sections[branch.parent]
        section = h.Section(name=branch.name)
        section.connect(parent(1.0 if branch.from_parent_end else 0.0), 0.0)
        start = ends[branch.parent][1 if branch.from_parent_end else 0]
        direction = np.asarray(branch.direction, dtype=float)
        end = start + direction / np.linalg.norm(direction) * branch.length
        section.pt3dclear()
        section.pt3dadd(*start, branch.diameter)
        section.pt3dadd(*end, branch.diameter)
        section.nseg = _segments_for(branch.length)
        sections[branch.name] = section
        ends[branch.name] = (start, end)
    for section in sections.values():
        section.Ra = design.axial_resistance
        section.cm = 1.0
        section.insert("pas")
        section.e_pas = -65.0
        section.g_pas = design.passive_conductance
    axonal = {branch.name for branch in design.branches if branch.active}
    for name, section in sections.items():
        if name == "soma":
            density = 1.0
        elif name in axonal:
            density = design.axon_gnabar_factor
        else:
            density = design.dendritic_density
        if density == 0:
            continue
        section.insert("hh")
        section.gnabar_hh = design.gnabar * density
        section.gkbar_hh = design.gkbar * (1.0 if name in axonal else density)
        section.gl_hh = 0.0003
        section.el_hh = -54.3
    section_list = h.SectionList()
    for section in sections.values():
        section_list.append(section)
    cell = LFPy.Cell(morphology=section_list, dt=dt, tstart=0.0, tstop=tstop, v_init=-65.0,
                     delete_sections=False, pt3d=True, nsegs_method=None)
    cell._si_recsim_sections = sections  # NEURON deletes Python sections without a reference
    return cell
