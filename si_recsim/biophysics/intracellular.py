"""Intracellular simulation: transmembrane currents of a few spikes per cell model.

A somatic current step is calibrated until the cell fires a number of spikes inside
``target_spikes`` (or the model's own window, :attr:`CellModel.target_spikes`): the amplitude
starts at ``weights[0]`` nA and is multiplied by ``weights[0]`` after too many spikes and by
``weights[1]`` after too few, as in MEArec, until the window is bracketed; then the bracket is
bisected, which finds narrow windows that multiplicative steps jump over. The first spike is
dropped and every other spike is cut ``cut_out`` ms around its somatic peak, for the membrane
currents of all segments. Results are cached on disk, keyed by everything that affects them.

Each trial cell is built in an empty NEURON (existing sections are deleted first), because LFPy
indexes every section NEURON holds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from si_recsim.biophysics.cell_models import CellModel
from si_recsim.errors import SetupError
from si_recsim.library.cell_bank import CellCurrents, read_cell_bank, write_cell_bank
from si_recsim.library.default import default_cache_folder
from si_recsim.params.templates import TemplateParameters, build_template_params

SPIKE_THRESHOLD_MV = -30.0
PEAK_SEARCH_MS = 1.0
MAX_CALIBRATION_TRIES = 20


@dataclass(frozen=True)
class IntracellularSettings:
    """Simulation settings (MEArec's ``templates_params.yaml`` keys and units; build them with
    :meth:`from_params`, whose defaults are the parameter schema's)."""

    sim_time: float  # s
    dt: float  # ms
    delay: float  # ms
    cut_out: tuple  # ms before / after the peak
    target_spikes: tuple
    weights: tuple

    @classmethod
    def from_params(cls, params: dict | TemplateParameters | None = None, **overrides) -> IntracellularSettings:
        """The settings of template parameters (:class:`~si_recsim.params.templates.TemplateParameters`,
        completed with its defaults), e.g. ``IntracellularSettings.from_params(sim_time=0.2)``."""
        params = build_template_params(params, **overrides)
        return cls(sim_time=params.sim_time, dt=params.dt, delay=params.delay, cut_out=params.cut_out,
                   target_spikes=params.target_spikes, weights=params.weights)

    def __post_init__(self):
        # one canonical form per value, so equal settings always give the same cache key
        for name, kind in (("sim_time", float), ("dt", float), ("delay", float)):
            object.__setattr__(self, name, kind(getattr(self, name)))
        object.__setattr__(self, "cut_out", tuple(float(value) for value in self.cut_out))
        object.__setattr__(self, "target_spikes", tuple(int(value) for value in self.target_spikes))
        object.__setattr__(self, "weights", tuple(float(value) for value in self.weights))

    @property
    def nbefore(self) -> int:
        return int(round(self.cut_out[0] / self.dt))

    @property
    def n_samples(self) -> int:
        return self.nbefore + int(round(self.cut_out[1] / self.dt))


def cache_key(model: CellModel, settings: IntracellularSettings) -> str:
    """Hash of the model (name, temperature, window, fingerprint), the settings and the NEURON version."""
    import neuron

    payload = dict(name=model.name, celsius=model.celsius, fingerprint=model.fingerprint,
                   target_spikes=model.target_spikes, settings=asdict(settings), neuron=neuron.__version__)
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def simulate_spikes(model: CellModel, settings: IntracellularSettings | None = None,
                    cache_folder: Path | None = None) -> CellCurrents:
    """Spike currents of ``model``, from the cache when the same simulation was run before.

    Parameters
    ----------
    model : CellModel
    settings : IntracellularSettings | None, default: None
        None: the defaults of the template parameters.
    cache_folder : Path | None, default: None
        Where results are kept (:func:`default_cache_folder` when None).

    Returns
    -------
    spikes : CellCurrents
    """
    settings = settings if settings is not None else IntracellularSettings.from_params()
    folder = Path(cache_folder) if cache_folder is not None else default_cache_folder()
    path = folder / "intracellular" / f"{model.name}-{cache_key(model, settings)}.h5"
    if path.exists():
        return read_cell_bank(path).cells[model.name]
    spikes = _simulate(model, settings)
    write_cell_bank(path, [spikes], name=f"intracellular cache of {model.name}", overwrite=True)
    return spikes


def _simulate(model: CellModel, settings: IntracellularSettings) -> CellCurrents:
    import LFPy
    from neuron import h

    tstop = settings.sim_time * 1000.0
    low, high = model.target_spikes or settings.target_spikes
    amplitude = settings.weights[0]
    too_few, too_many = None, None  # largest amplitude with too few spikes, smallest with too many
    counts = []
    for _ in range(MAX_CALIBRATION_TRIES):
        h.celsius = model.celsius
        _delete_all_sections()
        cell = model.make_cell(settings.dt, tstop)
        soma_index = int(cell.get_idx("soma")[0])
        stimulus = LFPy.StimIntElectrode(cell, idx=soma_index, pptype="IClamp", amp=amplitude,
                                         dur=tstop - settings.delay, delay=settings.delay)
        cell.simulate(rec_imem=True)
        peaks = _spike_peaks(np.asarray(cell.somav), settings)
        counts.append((amplitude, len(peaks)))
        if low < len(peaks) <= high:
            return _cut_spikes(model, cell, peaks, settings, amplitude)
        if len(peaks) > high:
            too_many = amplitude if too_many is None else min(too_many, amplitude)
        else:
            too_few = amplitude if too_few is None else max(too_few, amplitude)
        if too_few is not None and too_many is not None:
            amplitude = (too_few + too_many) / 2.0
        else:
            amplitude *= settings.weights[0] if len(peaks) > high else settings.weights[1]
        del stimulus, cell
    tried = ", ".join(f"{amp:.3g} nA: {count} spikes" for amp, count in counts)
    raise SetupError(
        f"Cell model {model.name} did not fire between {low} (excluded) and {high} spikes in "
        f"{settings.sim_time} s after {MAX_CALIBRATION_TRIES} current steps ({tried}). Change "
        "target_spikes, weights or sim_time, or check the model's excitability."
    )


def _delete_all_sections() -> None:
    """Start from an empty NEURON: LFPy cells index every section NEURON holds, so a cell must be
    alone (LFPy's own default, ``delete_sections=True``, does the same)."""
    from neuron import h

    h("forall delete_section()")


def _spike_peaks(voltage: np.ndarray, settings: IntracellularSettings) -> np.ndarray:
    """Somatic peaks after upward threshold crossings, away from the edges of the simulation."""
    crossings = np.flatnonzero((voltage[:-1] < SPIKE_THRESHOLD_MV) & (voltage[1:] >= SPIKE_THRESHOLD_MV)) + 1
    search = int(round(PEAK_SEARCH_MS / settings.dt))
    peaks = np.array([crossing + np.argmax(voltage[crossing: crossing + search]) for crossing in crossings],
                     dtype=int)
    after = int(round(settings.cut_out[1] / settings.dt))
    keep = (peaks >= settings.nbefore) & (peaks + after <= len(voltage))
    return peaks[keep]


def _cut_spikes(model: CellModel, cell, peaks: np.ndarray, settings: IntracellularSettings,
                amplitude: float) -> CellCurrents:
    windows = [np.arange(peak - settings.nbefore, peak - settings.nbefore + settings.n_samples) for peak in peaks[1:]]
    currents = np.stack([cell.imem[:, window] for window in windows]).astype(np.float32)
    voltage = np.stack([np.asarray(cell.somav)[window] for window in windows])
    starts = np.column_stack([cell.x[:, 0], cell.y[:, 0], cell.z[:, 0]])
    ends = np.column_stack([cell.x[:, -1], cell.y[:, -1], cell.z[:, -1]])
    somatic = np.zeros(cell.totnsegs, dtype=bool)
    somatic[cell.get_idx("soma")] = True
    soma_position = np.asarray(cell.somapos, dtype=float)
    import neuron

    provenance = dict(celsius=float(model.celsius), model_source=model.description or model.name,
                      model_version=model.fingerprint, neuron_version=neuron.__version__,
                      stimulus=f"somatic step of {amplitude:.4g} nA from {settings.delay:g} ms, {settings.sim_time:g} s")
    return CellCurrents(name=model.name, currents=currents, somatic_voltage=voltage, starts=starts - soma_position,
                        ends=ends - soma_position, diameters=np.asarray(cell.d, dtype=float), somatic=somatic,
                        dt=settings.dt, nbefore=settings.nbefore, stimulus_nA=float(amplitude),
                        spike_indices=np.arange(1, len(peaks)), provenance=provenance)
