"""Memory and disk a ground-truth recording will need, estimated from its parameters before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from si_recsim.params.recordings import RecordingParameters
from si_recsim.resources import ResourceError, require_disk, require_memory

SPIKE_BYTES = 64  # per spike in memory: frame, unit, template and jitter indices, amplitude factors
TEMPLATE_MS = 6.0  # a typical template length before padding, ms
ESTIMATE_FS = 32_000.0  # Hz, when the sampling rate comes from the library (not known yet)
LIBRARY_TEMPLATES_PER_UNIT = 5  # templates computed per unit when a library is made for the probe
MAX_FRAMES = 2**53  # frames stay exact as float64 times


def expected_spike_count(params: RecordingParameters) -> float:
    """Mean number of spikes of the drawn spike trains."""
    trains = params.spiketrains
    total_rate = (sum(trains.rates) if trains.rates is not None
                  else trains.n_exc * trains.f_exc + trains.n_inh * trains.f_inh)
    return float(total_rate) * float(trains.duration)


def check_recording_budget(params: RecordingParameters, n_channels: int, n_units: int | None = None,
                           n_spikes: float | None = None, allow_large: bool = False) -> None:
    """Refuse a recording whose spike trains, templates or frame count exceed what the machine holds.

    Parameters
    ----------
    params : RecordingParameters
    n_channels : int
        Channels of the probe (a lower bound is enough).
    n_units, n_spikes : int | float | None
        For given spike trains; None: from the spike-train parameters.
    allow_large : bool, default: False

    Raises
    ------
    ResourceError
    """
    trains = params.spiketrains
    fs = float(params.recordings.fs or ESTIMATE_FS)
    n_frames = float(trains.duration) * fs
    if n_frames > MAX_FRAMES:
        raise ResourceError(f"{trains.duration:g} s at {fs:g} Hz is {n_frames:.3g} frames, beyond the {MAX_FRAMES:.3g} a "
                            "recording can index exactly: shorten spiketrains.duration or lower recordings.fs.")
    if n_units is None:
        n_units = len(trains.rates) if trains.rates is not None else trains.n_exc + trains.n_inh
    selection = params.templates
    samples = fs * (TEMPLATE_MS + sum(selection.pad_len)) / 1000.0
    template_bytes = n_units * selection.n_jitters * max(int(n_channels), 1) * samples * np.dtype(np.float32).itemsize
    library_bytes = n_units * LIBRARY_TEMPLATES_PER_UNIT * max(int(n_channels), 1) * fs * TEMPLATE_MS / 1000.0 * 4
    spikes = expected_spike_count(params) if n_spikes is None else float(n_spikes)
    needed = spikes * SPIKE_BYTES + template_bytes + library_bytes
    require_memory(f"A recording of {n_units} units ({spikes:.3g} spikes, {n_channels} channels, {fs:g} Hz, "
                   f"{trains.duration:g} s)", needed,
                   "lower spiketrains.duration, the number of units, their rates or recordings.fs", allow_large)


def check_saving_budget(recording, folder: str | Path, allow_large: bool = False) -> None:
    """Refuse saving ``recording`` where the disk cannot hold its traces.

    Raises
    ------
    ResourceError
    """
    n_bytes = (float(recording.get_total_samples()) * recording.get_num_channels()
               * np.dtype(recording.get_dtype()).itemsize)
    require_disk(f"Saving {recording.get_total_duration():g} s of {recording.get_num_channels()} channels", n_bytes,
                 folder, "record less or write elsewhere", allow_large)
