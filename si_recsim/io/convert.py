"""Conversions between MEArec files, SpikeInterface ground-truth folders, template libraries and
neurodamus LFP reports (with their spike file)."""

from __future__ import annotations

from pathlib import Path

from si_recsim.atomic import check_output
from si_recsim.errors import InputError
from si_recsim.h5_input import open_h5

RECORDING_FORMATS = ("mearec", "binary", "zarr", "nwb")
LIBRARY_FORMATS = ("library", "mearec-templates")


def input_kind(path: str | Path) -> str:
    """``"ground-truth"`` (a folder from save_ground_truth), ``"mearec-recording"``, ``"library"``
    (si_recsim or MEArec template file), ``"sonata-lfp-report"`` (a neurodamus LFP report)."""
    path = Path(path)
    if path.is_dir():
        if _is_ground_truth_folder(path):
            return "ground-truth"
        raise InputError(f"{path} is not a ground-truth folder (recording/ and sorting/ from si-recsim).")
    with open_h5(path, "a MEArec recording, a template library or a SONATA LFP report") as file:
        if "recordings" in file and "spiketrains" in file:
            return "mearec-recording"
        if "templates" in file:
            return "library"
        if "report" in file:
            return "sonata-lfp-report"
    raise InputError(f"{path} is neither a MEArec recording, a template library, a SONATA LFP report nor a "
                     "ground-truth folder.")


def _is_ground_truth_folder(path: Path) -> bool:
    return any((path / name).exists() for name in ("recording", "recording.zarr"))


def convert(source: str | Path, target: str | Path, to: str, overwrite: bool = False, progress_bar: bool = True,
            spikes: str | Path | None = None, electrodes_file: str | Path | None = None,
            weights_units: str = "V/nA", population: str | None = None, allow_large: bool = False) -> Path:
    """Convert ``source`` into ``target`` in format ``to``.

    Parameters
    ----------
    source : str | Path
        A MEArec recording file, a ground-truth folder (``save_ground_truth``), a template library
        (si_recsim's or MEArec's), or a neurodamus LFP report (to "binary" or "zarr", with ``spikes``).
    target : str | Path
    to : "mearec" | "binary" | "zarr" | "nwb" | "library" | "mearec-templates"
        Recordings become MEArec files, SpikeInterface ground-truth folders or NWB files
        (:func:`si_recsim.io.nwb.write_nwb`, the ``nwb`` extra); libraries become si_recsim or MEArec
        template files.
    overwrite : bool, default: False
        Replace an existing target, only one si_recsim wrote (:func:`si_recsim.atomic.check_output`).
    progress_bar : bool, default: True
    spikes : str | Path | None
        LFP reports: the simulation's SONATA spike file, which becomes the ground-truth sorting
        (at the report's sampling rate).
    electrodes_file, weights_units, population
        LFP reports: see :class:`~si_recsim.io.sonata_reports.SonataLfpReportRecording`.
    allow_large : bool, default: False
        Skip the check that refuses ground-truth folders larger than the free disk space.

    Returns
    -------
    target : Path
    """
    target = Path(target)
    if to not in RECORDING_FORMATS + LIBRARY_FORMATS:
        raise InputError(f"--to must be one of {list(RECORDING_FORMATS + LIBRARY_FORMATS)}, got {to!r}.")
    kind = input_kind(source)
    if (kind == "library") != (to in LIBRARY_FORMATS):
        allowed = LIBRARY_FORMATS if kind == "library" else RECORDING_FORMATS
        raise InputError(f"{source} is a {kind}: convert it to one of {list(allowed)}.")
    check_output(target, overwrite)
    if kind == "library":
        from si_recsim.library.library_file import write_template_library
        from si_recsim.library.loading import load_template_library
        from si_recsim.library.mearec_templates import write_mearec_templates

        library = load_template_library(source)
        writer = write_template_library if to == "library" else write_mearec_templates
        return writer(library, target, overwrite=overwrite)
    if kind == "sonata-lfp-report":
        recording, sorting = _lfp_report_with_spikes(source, to, spikes, electrodes_file, weights_units, population)
    else:
        recording, sorting = _recording_and_sorting(source, kind)
    if to == "mearec":
        from si_recsim.io.mearec_export import write_mearec_recording

        return write_mearec_recording(recording, sorting, target, progress_bar=progress_bar, overwrite=overwrite)
    if to == "nwb":
        from si_recsim.io.nwb import write_nwb

        return write_nwb(recording, sorting, target, overwrite=overwrite, progress_bar=progress_bar)
    from si_recsim.recording.ground_truth import save_ground_truth

    return save_ground_truth(recording, sorting, target, format=to, overwrite=overwrite, progress_bar=progress_bar,
                             allow_large=allow_large)


def _recording_and_sorting(source: str | Path, kind: str):
    """A ground-truth folder's or a MEArec file's recording and sorting."""
    if kind == "ground-truth":
        from si_recsim.recording.ground_truth import load_ground_truth

        return load_ground_truth(source)
    from si_recsim.io.mearec_recording import read_mearec_recording

    return read_mearec_recording(source)


def load_recording(source: str | Path):
    """The recording of a ground-truth folder, a MEArec recording file or a SpikeInterface recording folder."""
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path} does not exist: give a ground-truth folder, a MEArec recording or a SpikeInterface "
                         "recording folder (recording.save(folder=...)).")
    if path.is_dir() and not _is_ground_truth_folder(path):
        from spikeinterface.core import load

        return load(path)
    kind = input_kind(path)
    if kind not in ("ground-truth", "mearec-recording"):
        raise InputError(f"{path} is a {kind}, not a recording: give a ground-truth folder, a MEArec recording or a "
                         "SpikeInterface recording folder.")
    return _recording_and_sorting(path, kind)[0]


def save_offline_lfp(electrodes_file: str | Path, compartment_report: str | Path, target: str | Path,
                     spikes: str | Path, to: str = "binary", weights_units: str = "V/nA", population: str | None = None,
                     overwrite: bool = False, progress_bar: bool = True, allow_large: bool = False) -> Path:
    """The offline LFP (:class:`~si_recsim.io.offline_lfp.OfflineLfpRecording`) with the simulation's
    spikes as a ground-truth folder (``to`` "binary" or "zarr") or NWB file (``to`` "nwb").

    Parameters
    ----------
    electrodes_file, compartment_report, weights_units, population
        See :class:`~si_recsim.io.offline_lfp.OfflineLfpRecording`.
    target : str | Path
    spikes : str | Path
        The simulation's SONATA spike file (out.h5): the sorting, at the report's sampling rate.
    to : "binary" | "zarr" | "nwb", default: "binary"
    overwrite, progress_bar, allow_large
        As for :func:`convert`.
    """
    from si_recsim.io.offline_lfp import OfflineLfpRecording

    target = Path(target)
    if to not in ("binary", "zarr", "nwb"):
        raise InputError(f"--to must be 'binary', 'zarr' or 'nwb', got {to!r}.")
    check_output(target, overwrite)
    recording = OfflineLfpRecording(electrodes_file, compartment_report, population=population,
                                    weights_units=weights_units)
    sorting = _spikes_over(recording, spikes, recording.get_annotation("summed_nodes"))
    if to == "nwb":
        from si_recsim.io.nwb import write_nwb

        return write_nwb(recording, sorting, target, overwrite=overwrite, progress_bar=progress_bar)
    from si_recsim.recording.ground_truth import save_ground_truth

    return save_ground_truth(recording, sorting, target, format=to, overwrite=overwrite, progress_bar=progress_bar,
                             allow_large=allow_large)


def _spikes_over(recording, spikes: str | Path, summed_nodes: dict):
    """The spike file's sorting at the recording's rate, over the recording's time span."""
    from si_recsim.io.sonata_reports import SonataSpikesSorting

    population = next(iter(summed_nodes)) if len(summed_nodes) == 1 else None
    t_start = float(recording.get_times()[0])
    return SonataSpikesSorting(spikes, population=population, sampling_frequency=recording.sampling_frequency,
                               t_start=t_start, t_stop=t_start + recording.get_num_samples() / recording.sampling_frequency)


def _lfp_report_with_spikes(source, to, spikes, electrodes_file, weights_units, population):
    from si_recsim.io.sonata_reports import SonataLfpReportRecording

    if to == "mearec":
        raise InputError(f"{source} is an LFP report: convert it to 'binary' or 'zarr'.")
    if spikes is None:
        raise InputError(f"Converting the LFP report {source} needs the simulation's spike file for the sorting "
                         "(spikes=..., --spikes out.h5).")
    recording = SonataLfpReportRecording(source, population=population, electrodes_file=electrodes_file,
                                         weights_units=weights_units)
    return recording, _spikes_over(recording, spikes, {population: None} if population else {})
