"""The cell-currents bank: per cell model, its segment geometry and the membrane currents of several spikes.

A template is ``M(probe, position, rotation) @ I(t)``: the transfer matrix ``M`` comes from
:mod:`si_recsim.physics` in milliseconds, the currents ``I(t)`` from a NEURON simulation that is
run once, when the bank is made. So a bank gives biophysical templates on any probe without NEURON
(:func:`si_recsim.generate_template_library` with ``bank=``).

File layout (HDF5, read with h5py alone)::

    attrs       si_recsim_cell_bank (format version), name, description, licence, attribution
    /<model>/   one group per cell model
        attrs           cell_type ("E" | "I"), dt (ms), nbefore (sample of the somatic peak),
                        stimulus_nA, celsius (°C), model_source, model_version, model_licence,
                        neuron_version, stimulus
        starts, ends    (n_segments, 3) float64, µm, soma centre at the origin, apical axis along +y
        diameters       (n_segments,) float64, µm
        somatic         (n_segments,) bool, segments of soma sections
        currents        (n_spikes, n_segments, n_samples) float32 or float16, nA
        somatic_voltage (n_spikes, n_samples) float32, mV
        spike_indices   (n_spikes,) int32, which spike of the calibrated step response each one is
                        (the first spike of the train is never kept)

Files are written atomically (:func:`si_recsim.atomic.atomic_h5`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from si_recsim.atomic import atomic_h5
from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5

FORMAT_VERSION = 1
MARKER = "si_recsim_cell_bank"
_MODEL_ATTRIBUTES = ("cell_type", "stimulus_nA", "celsius", "model_source", "model_version", "model_licence",
                     "neuron_version", "stimulus")


@dataclass
class CellCurrents:
    """Membrane currents of the spikes of one cell model, with its segment geometry.

    Attributes
    ----------
    name : str
        Cell model name.
    currents : np.ndarray
        (n_spikes, n_segments, n_samples) float32, nA.
    somatic_voltage : np.ndarray
        (n_spikes, n_samples), mV.
    starts, ends : np.ndarray
        (n_segments, 3) segment end points, µm, soma centred at the origin, apical axis along +y.
    diameters : np.ndarray
        (n_segments,), µm.
    somatic : np.ndarray
        (n_segments,) bool, segments of soma sections.
    dt : float
        Sampling period, ms.
    nbefore : int
        Sample of the somatic peak.
    stimulus_nA : float
        Calibrated current step.
    spike_indices : np.ndarray | None
        Position of each spike in the step response's train.
    cell_type : str
        ``"E"`` or ``"I"`` when known, else ``""``.
    provenance : dict
        ``celsius``, ``model_source``, ``model_version``, ``model_licence``, ``neuron_version``,
        ``stimulus`` (strings or numbers).
    """

    name: str
    currents: np.ndarray
    somatic_voltage: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    diameters: np.ndarray
    somatic: np.ndarray
    dt: float
    nbefore: int
    stimulus_nA: float
    spike_indices: np.ndarray | None = None
    cell_type: str = ""
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        self.currents = np.asarray(self.currents, dtype=np.float32)
        self.somatic_voltage = np.asarray(self.somatic_voltage, dtype=np.float32)
        self.starts = np.asarray(self.starts, dtype=float).reshape(-1, 3)
        self.ends = np.asarray(self.ends, dtype=float).reshape(-1, 3)
        self.diameters = np.asarray(self.diameters, dtype=float)
        self.somatic = np.asarray(self.somatic, dtype=bool)
        n_segments = len(self.starts)
        if self.currents.ndim != 3 or self.currents.shape[1] != n_segments:
            raise InputError(f"{self.name}: currents must be (n_spikes, {n_segments} segments, n_samples), got "
                             f"{self.currents.shape}.")
        if not (self.ends.shape == (n_segments, 3) and self.diameters.shape == (n_segments,)
                and self.somatic.shape == (n_segments,)):
            raise InputError(f"{self.name}: starts, ends, diameters and somatic must describe {n_segments} segments.")
        if self.spike_indices is None:
            self.spike_indices = np.arange(1, len(self.currents) + 1)
        self.spike_indices = np.asarray(self.spike_indices, dtype=np.int32)

    @property
    def n_spikes(self) -> int:
        return self.currents.shape[0]

    @property
    def n_samples(self) -> int:
        return self.currents.shape[2]

    def subset(self, spikes: np.ndarray) -> CellCurrents:
        """Only the spikes at positions ``spikes``."""
        spikes = np.asarray(spikes, dtype=int)
        return CellCurrents(self.name, self.currents[spikes], self.somatic_voltage[spikes], self.starts, self.ends,
                            self.diameters, self.somatic, self.dt, self.nbefore, self.stimulus_nA,
                            self.spike_indices[spikes], self.cell_type, dict(self.provenance))


@dataclass
class CellBank:
    """Cell models' currents and geometry, read from a bank file (see the module text).

    Attributes
    ----------
    cells : dict
        Model name → :class:`CellCurrents`, in name order.
    name, description, licence, attribution : str
    path : Path | None
        The file it was read from.
    """

    cells: dict
    name: str = ""
    description: str = ""
    licence: str = ""
    attribution: str = ""
    path: Path | None = None

    @property
    def model_names(self) -> list[str]:
        return list(self.cells)


def write_cell_bank(file_path: str | Path, cells: list[CellCurrents], name: str, description: str = "",
                    licence: str = "", attribution: str = "", currents_dtype: str = "float32",
                    overwrite: bool = False) -> Path:
    """Write ``cells`` as a bank file, atomically.

    Parameters
    ----------
    file_path : str | Path
    cells : list of CellCurrents
        Model names must be unique (they name the groups).
    name, description : str
    licence, attribution : str
        Of the cell models the currents come from (e.g. ``"CC BY-NC-SA 4.0"`` for Blue Brain models).
    currents_dtype : "float32" | "float16", default: "float32"
        float16 keeps three significant digits and halves the file.
    overwrite : bool, default: False
        Replace an existing file, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).
    """
    names = [cell.name for cell in cells]
    if len(set(names)) != len(names) or any("/" in cell_name or not cell_name for cell_name in names):
        raise InputError(f"Cell model names must be unique and non-empty, without '/': {names}.")
    file_path = Path(file_path)
    with atomic_h5(file_path, overwrite=overwrite) as file:
        file.attrs[MARKER] = FORMAT_VERSION
        for key, value in dict(name=name, description=description, licence=licence, attribution=attribution).items():
            file.attrs[key] = value
        for cell in cells:
            group = file.create_group(cell.name)
            group.attrs["dt"] = float(cell.dt)
            group.attrs["nbefore"] = int(cell.nbefore)
            values = dict(cell.provenance, cell_type=cell.cell_type, stimulus_nA=float(cell.stimulus_nA))
            for key in _MODEL_ATTRIBUTES:
                if values.get(key) is not None:
                    group.attrs[key] = values[key]
            for key in ("starts", "ends", "diameters"):
                group.create_dataset(key, data=getattr(cell, key).astype(np.float64))
            group.create_dataset("somatic", data=cell.somatic)
            group.create_dataset("currents", data=cell.currents.astype(currents_dtype), compression="gzip",
                                 shuffle=True, chunks=(1,) + cell.currents.shape[1:])
            group.create_dataset("somatic_voltage", data=cell.somatic_voltage.astype(np.float32))
            group.create_dataset("spike_indices", data=cell.spike_indices.astype(np.int32))
    return file_path


def bank_file_identity(file_path: str | Path) -> dict:
    """What identifies a bank file's contents cheaply: its resolved path, size and modification time."""
    path = Path(file_path).resolve()
    stat = path.stat()
    return dict(file=str(path), size=stat.st_size, modified_ns=stat.st_mtime_ns)


def is_cell_bank_file(file_path: str | Path) -> bool:
    """Whether ``file_path`` is an HDF5 file written by :func:`write_cell_bank`."""
    try:
        with h5py.File(file_path, "r") as file:
            return MARKER in file.attrs
    except OSError:
        return False


def cell_bank_classes(file_path: str | Path) -> dict[str, str]:
    """Model name → ``"E"``/``"I"`` (``""`` when unknown) of a bank file, without reading its currents."""
    with open_h5(file_path, "an si_recsim cell bank") as file:
        if MARKER not in file.attrs:
            raise InputError(f"{file_path} is not an si_recsim cell bank.")
        return {name: str(_plain(file[name].attrs.get("cell_type", ""))) for name in sorted(file)}


def read_cell_bank(file_path: str | Path, models: list[str] | None = None) -> CellBank:
    """Read a bank file (or only the cell models named in ``models``)."""
    file_path = Path(file_path)
    if not file_path.is_file():
        raise FileNotFoundError(f"Cell bank {file_path} does not exist: pass a bank file or a packaged bank's name.")
    with open_h5(file_path, "an si_recsim cell bank") as file:
        if MARKER not in file.attrs:
            raise InputError(f"{file_path} is not an si_recsim cell bank.")
        if int(file.attrs[MARKER]) > FORMAT_VERSION:
            raise InputError(f"{file_path} has cell-bank format {int(file.attrs[MARKER])}; this si_recsim reads up to "
                             f"{FORMAT_VERSION}: upgrade si_recsim.")
        available = sorted(file)
        unknown = sorted(set(models or []) - set(available))
        if unknown:
            raise InputError(f"Cell bank {file_path} has no models {unknown}; it has {available}.")
        cells = {}
        for model in models or available:
            group = file[model]
            attributes = {key: _plain(group.attrs[key]) for key in _MODEL_ATTRIBUTES if key in group.attrs}
            cells[model] = CellCurrents(
                name=model, currents=group["currents"][()], somatic_voltage=group["somatic_voltage"][()],
                starts=group["starts"][()], ends=group["ends"][()], diameters=group["diameters"][()],
                somatic=group["somatic"][()], dt=float(group.attrs["dt"]), nbefore=int(group.attrs["nbefore"]),
                stimulus_nA=float(attributes.pop("stimulus_nA", np.nan)), spike_indices=group["spike_indices"][()],
                cell_type=str(attributes.pop("cell_type", "")), provenance=attributes)
        metadata = {key: str(_plain(file.attrs.get(key, ""))) for key in ("name", "description", "licence", "attribution")}
    return CellBank(cells=cells, path=file_path, **metadata)


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
