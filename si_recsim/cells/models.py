"""Cell models: anything that can build an LFPy cell, plus the built-in models.

A :class:`CellModel` is a name, a temperature and a function ``make_cell(dt, tstop)`` returning an
``LFPy.Cell`` whose soma section names contain ``"soma"``. That is the plug-in point for any other
model (Allen Cell Types, NeuroML, ...): wrap its loading code in such a function.

The built-in models need no compilation: they use only NEURON's built-in ``hh`` and ``pas``
mechanisms on morphologies built in code, with the apical axis along +y (the probe's long axis in
si_recsim's frame):

* ``builtin_PC``: pyramidal cell (excitatory), large soma, two-section apical dendrite, basal
  dendrites, axon; 16 °C (slow Hodgkin-Huxley kinetics, wide spikes);
* ``builtin_MC``: Martinotti-like interneuron (inhibitory), ascending dendrites; 26 °C;
* ``builtin_BC``: basket-like interneuron (inhibitory), compact star-shaped dendrites, strong
  potassium; 36 °C (fast kinetics, narrow spikes).

Temperature scales the ``hh`` rates (Q10 = 3), which is how the spike widths differ. NEURON
imports happen inside the functions, so ``import si_recsim`` does not need NEURON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class CellModel:
    """A cell model that template generation can simulate.

    Attributes
    ----------
    name : str
        Cell model name (E/I categories come from the ``cell_types`` substrings).
    make_cell : callable
        ``make_cell(dt, tstop) -> LFPy.Cell``; dt and tstop in ms.
    celsius : float
        Temperature set in NEURON before simulating, °C.
    description : str
    """

    name: str
    make_cell: Callable
    celsius: float = 34.0
    description: str = ""


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
    extra: dict = field(default_factory=dict)


_DESIGNS = {
    "builtin_PC": (16.0, "pyramidal cell (excitatory), wide spikes", _Design(
        soma_diameter=20.0,
        branches=(
            _Branch("apic[0]", "soma", (0.0, 1.0, 0.0), 300.0, 4.0),
            _Branch("apic[1]", "apic[0]", (0.25, 1.0, 0.15), 300.0, 2.5),
            _Branch("apic[2]", "apic[0]", (-0.6, 1.0, -0.2), 150.0, 1.5),
            _Branch("dend[0]", "soma", (0.8, -1.0, 0.1), 150.0, 1.5, from_parent_end=False),
            _Branch("dend[1]", "soma", (-0.8, -1.0, -0.2), 150.0, 1.5, from_parent_end=False),
            _Branch("dend[2]", "soma", (0.1, -1.0, 0.9), 120.0, 1.5, from_parent_end=False),
            _Branch("axon[0]", "soma", (0.05, -1.0, 0.0), 400.0, 1.0, active=True, from_parent_end=False),
        ))),
    "builtin_MC": (26.0, "Martinotti-like interneuron (inhibitory), intermediate spikes", _Design(
        soma_diameter=14.0, gkbar=0.06,
        branches=(
            _Branch("dend[0]", "soma", (0.3, 1.0, 0.1), 250.0, 1.5),
            _Branch("dend[1]", "soma", (-0.4, 1.0, -0.2), 200.0, 1.2),
            _Branch("dend[2]", "soma", (0.9, -0.5, 0.3), 120.0, 1.0, from_parent_end=False),
            _Branch("dend[3]", "soma", (-0.9, -0.6, 0.0), 120.0, 1.0, from_parent_end=False),
            _Branch("axon[0]", "soma", (0.0, 1.0, 0.4), 350.0, 0.8, active=True),
        ))),
    "builtin_BC": (36.0, "basket-like interneuron (inhibitory), narrow spikes", _Design(
        soma_diameter=14.0, gkbar=0.09,
        branches=(
            _Branch("dend[0]", "soma", (1.0, 1.0, 0.0), 120.0, 1.2),
            _Branch("dend[1]", "soma", (-1.0, 1.0, 0.3), 120.0, 1.2),
            _Branch("dend[2]", "soma", (1.0, -1.0, -0.3), 120.0, 1.2, from_parent_end=False),
            _Branch("dend[3]", "soma", (-1.0, -1.0, 0.0), 120.0, 1.2, from_parent_end=False),
            _Branch("dend[4]", "soma", (0.0, 0.3, 1.0), 100.0, 1.2),
            _Branch("axon[0]", "soma", (0.1, -1.0, 0.3), 300.0, 0.8, active=True, from_parent_end=False),
        ))),
}

BUILTIN_MODEL_NAMES = tuple(_DESIGNS)


def builtin_cell_model(name: str) -> CellModel:
    """One of the built-in models (:data:`BUILTIN_MODEL_NAMES`)."""
    if name not in _DESIGNS:
        raise ValueError(f"Unknown built-in cell model {name!r}; available: {', '.join(BUILTIN_MODEL_NAMES)}.")
    celsius, description, design = _DESIGNS[name]

    def make_cell(dt: float, tstop: float):
        return _instantiate(design, dt, tstop)

    return CellModel(name=name, make_cell=make_cell, celsius=celsius, description=description)


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
    for name, section in sections.items():
        section.Ra = design.axial_resistance
        section.cm = 1.0
        section.insert("pas")
        section.e_pas = -65.0
        section.g_pas = design.passive_conductance
    active = ["soma"] + [branch.name for branch in design.branches if branch.active]
    for name in active:
        section = sections[name]
        section.insert("hh")
        section.gnabar_hh = design.gnabar * (design.axon_gnabar_factor if name != "soma" else 1.0)
        section.gkbar_hh = design.gkbar
        section.gl_hh = 0.0003
        section.el_hh = -54.3
    section_list = h.SectionList()
    for section in sections.values():
        section_list.append(section)
    cell = LFPy.Cell(morphology=section_list, dt=dt, tstart=0.0, tstop=tstop, v_init=-65.0,
                     delete_sections=False, pt3d=True, nsegs_method=None)
    cell._si_recsim_sections = sections  # NEURON deletes Python sections without a reference
    return cell
