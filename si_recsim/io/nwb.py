"""Ground truth as an NWB file, written with the ecosystem's own writer (neuroconv on pynwb).

The recording goes to ``acquisition`` as an ``ElectricalSeries`` (electrodes with the probe's
contact positions, gains to volts), streamed chunk by chunk by neuroconv's SpikeInterface iterator,
so memory stays flat whatever the duration. The ground-truth sorting is the ``units`` table with
every ground-truth property as a column (``gt_unit_locations`` and ``voltage_peaks`` as
multi-dimensional columns). The parameters and seeds are stored as YAML in ``scratch``
(``si_recsim_params``) and summarised in the file's ``notes``. Needs the ``nwb`` extra
(``pip install 'si_recsim[nwb]'``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from pathlib import Path

import yaml

from si_recsim.atomic import atomic_output
from si_recsim.errors import InputError, SetupError
from si_recsim.recording.extractors import PARAMS_ANNOTATION

#: traces read per write, GB (neuroconv's default is 1 GB)
BUFFER_GB = 0.03

#: descriptions of the ground-truth columns of the units table
PROPERTY_DESCRIPTIONS = {
    "gt_unit_locations": "ground-truth soma position (x, y, z) in um; z is the distance from the probe plane",
    "main_channel_id": "channel where the unit's template has its largest trough",
    "cell_type": "E (excitatory) or I (inhibitory)",
    "cell_model": "the cell model the template comes from",
    "template_id": "index of the template in the template library",
    "firing_rate": "target firing rate in Hz",
    "bursting": "whether the unit's spikes are modulated by bursts",
    "drifting": "whether the unit drifts",
    "template_peak_uV": "absolute negative peak of the unfiltered template, uV",
    "filtered_peak_uV": "absolute negative peak on the main channel after the recording's filter, uV",
    "voltage_peaks": "absolute negative peak of the template on every channel, uV",
    "snr": "template peak over noise level (MEArec's SNR)",
    "template_rotation": "Euler angles of the cell model, radians",
}


#: the subject of a simulation made with the default cell bank: no animal, but the species and age of the
#: Blue Brain cell models (NMC portal, layer 5 of P14 rat somatosensory cortex)
DEFAULT_SUBJECT = dict(subject_id="in-silico", sex="U", species="Rattus norvegicus", age="P14D",
                       description="A simulation (si_recsim): cell models placed in front of a probe in a homogeneous "
                       "volume conductor; no animal. Species and age are those of the default cell models (Blue "
                       "Brain NMC portal, layer 5 of P14 rat somatosensory cortex).")


def write_nwb(recording, sorting, file_path: str | Path, overwrite: bool = False, progress_bar: bool = True,
              session_start_time: datetime.datetime | None = None, subject: dict | None = None) -> Path:
    """Write a ground-truth recording and sorting to an NWB (HDF5) file.

    Parameters
    ----------
    recording : BaseRecording
        Single segment, with a probe.
    sorting : BaseSorting
        Its ground truth; every property becomes a column of the units table.
    file_path : str | Path
    overwrite : bool, default: False
        Replace an existing file, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).
    progress_bar : bool, default: True
    session_start_time : datetime | None, default: None
        None: now (a simulation has no session).
    subject : dict | None, default: None
        Keyword arguments of ``pynwb.file.Subject``. None: :data:`DEFAULT_SUBJECT`, which describes the
        default cell bank's Blue Brain models (P14 rat somatosensory cortex); give your own for other
        cell models (NWB requires an age, and nwbinspector a species).

    Returns
    -------
    file_path : Path
    """
    try:
        from neuroconv.tools.spikeinterface import add_recording_to_nwbfile, add_sorting_to_nwbfile
        from pynwb import NWBHDF5IO, NWBFile
        from pynwb.core import ScratchData
        from pynwb.file import Subject
    except ImportError:
        raise SetupError("NWB export needs neuroconv and pynwb: pip install 'si_recsim[nwb]'.") from None
    if recording.get_num_segments() != 1:
        raise InputError("NWB export takes one segment: select one with recording.select_segments([i]).")
    params = recording.get_annotation(PARAMS_ANNOTATION)
    start = session_start_time or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    nwbfile = NWBFile(
        session_description="Simulated extracellular recording with ground truth (si_recsim).",
        identifier=_identifier(params),
        session_start_time=start,
        experiment_description="Ground-truth recording simulated by si_recsim: biophysical templates, spike "
                               "trains, noise and filtering; the units table is the ground truth.",
        notes=_notes(params),
        source_script="si_recsim",
        source_script_file_name="si_recsim",
        keywords=["simulation", "ground truth", "extracellular", "spike sorting"],
        subject=Subject(**(DEFAULT_SUBJECT if subject is None else subject)),
    )
    located = recording.select_channels(recording.channel_ids)  # a view: contact positions as electrode columns
    locations = located.get_channel_locations()
    located.set_property("rel_x", locations[:, 0])
    located.set_property("rel_y", locations[:, 1])
    add_recording_to_nwbfile(located, nwbfile, metadata=_metadata(recording), metadata_key="traces",
                             iterator_options={"display_progress": progress_bar, "buffer_gb": BUFFER_GB})
    properties = sorting.get_property_keys()
    add_sorting_to_nwbfile(sorting, nwbfile,
                           property_descriptions={key: PROPERTY_DESCRIPTIONS.get(key, key) for key in properties},
                           units_description="ground-truth units of the simulation (si_recsim)")
    if params is not None:
        nwbfile.add_scratch(ScratchData(name="si_recsim_params", data=yaml.safe_dump(params, sort_keys=False),
                                        description="every parameter and seed of the simulation (YAML)"))
    with atomic_output(file_path, overwrite=overwrite) as temporary:
        with NWBHDF5IO(str(temporary), mode="w") as io:
            io.write(nwbfile)
        _mark(temporary)
    return Path(file_path)


def _metadata(recording) -> dict:
    probe = recording.get_probe()
    name = str(probe.model_name or "probe")
    groups = sorted({str(group) for group in recording.get_channel_groups()})
    return {
        "Devices": {"probe": {"name": name, "description": f"simulated {name} probe (si_recsim)",
                              "manufacturer": str(probe.manufacturer or "simulated")}},
        "Ecephys": {
            "ElectrodeGroups": {group: {"name": group, "description": f"contacts of channel group {group} of {name}",
                                        "location": "simulated tissue (no brain area)", "device_metadata_key": "probe"}
                                for group in groups},
            "ElectricalSeries": {"traces": {"name": "ElectricalSeries",
                                            "description": "simulated extracellular traces"}},
            "Electrodes": [{"name": "rel_x", "description": "contact position in the probe plane, x, um"},
                           {"name": "rel_y", "description": "contact position in the probe plane, y, um"}],
        },
    }


def _identifier(params: dict | None) -> str:
    """A UUID derived from the parameters and seeds (the same simulation gets the same identifier)."""
    if params is None:
        return str(uuid.uuid4())
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def _notes(params: dict | None) -> str:
    if params is None:
        return "si_recsim ground truth"
    return f"si_recsim ground truth; seeds {params.get('seeds')}; full parameters in scratch/si_recsim_params"


def _mark(file_path: Path) -> None:
    import h5py

    from si_recsim.atomic import mark_h5

    with h5py.File(file_path, "a") as file:
        mark_h5(file)

