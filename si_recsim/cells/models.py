"""Cell models: anything that can build an LFPy cell.

A :class:`CellModel` is a name, a temperature and a function ``make_cell(dt, tstop)`` returning an
``LFPy.Cell`` whose soma section names contain ``"soma"``. That is the plug-in point for any model
(Blue Brain NMC-portal folders, Allen Cell Types, NeuroML, ...): wrap its loading code in such a
function. NEURON and LFPy are imported only inside those functions, so ``import si_recsim`` does
not need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class CellModel:
    """A cell model that template generation can simulate.

    Attributes
    ----------
    name : str
        Cell model name (E/I categories come from the ``cell_types`` substrings).
    make_cell : callable
        ``make_cell(dt, tstop) -> LFPy.Cell``; dt and tstop in ms. The cell's apical axis should
        point along +y, the probe's long axis in si_recsim's frame.
    celsius : float, default: 34.0
        Temperature set in NEURON before simulating, °C.
    description : str, default: ""
    """

    name: str
    make_cell: Callable
    celsius: float = 34.0
    description: str = ""
