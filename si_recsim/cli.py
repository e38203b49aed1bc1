"""The ``si-recsim`` command line."""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from si_recsim.errors import InputError, SetupError


def _parse_assignment(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE (e.g. recordings.noise_level=5), got {text!r}.")
    from si_recsim.params.common import ParameterError, parse_yaml

    key, value = text.split("=", 1)
    try:
        return key.strip(), parse_yaml(value, f"--set {key.strip()}")
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _n_jobs(text: str) -> int | float:
    """``-j``: a positive number of processes, -1 (every usable core) or a fraction of the cores in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value == -1 or value >= 1 and value.is_integer():
        return int(value)
    if 0 < value < 1:
        return value
    raise argparse.ArgumentTypeError(f"-j expects a positive number of processes, -1 (all usable cores) or a "
                                     f"fraction of them in (0, 1), got {text!r}.")


def _new_output(arguments: argparse.Namespace) -> Path:
    """The --output path, refused before any work when it exists without --overwrite, or was not written here."""
    from si_recsim.atomic import check_output

    return check_output(arguments.output, arguments.overwrite)


def _gen_recordings(arguments: argparse.Namespace) -> int:
    from si_recsim.recording.ground_truth import generate_ground_truth, save_ground_truth

    output = _new_output(arguments)
    overrides = dict(arguments.set or [])
    if arguments.duration is not None:
        overrides["spiketrains.duration"] = arguments.duration
    if arguments.probe is not None and arguments.templates is not None:
        raise InputError("--probe computes templates from a cell bank for that probe; -t gives a library: use one.")
    recording, sorting = generate_ground_truth(arguments.params, template_library=arguments.templates,
                                               probe=arguments.probe, bank=arguments.bank, seed=arguments.seed,
                                               allow_large=arguments.allow_large, **overrides)
    print(f"{sorting.get_num_units()} units, {recording.get_num_channels()} channels, "
          f"{recording.get_total_duration():g} s at {recording.sampling_frequency:g} Hz; "
          f"templates: {recording.get_annotation('template_library_source')}; "
          f"seeds: {recording.get_annotation('si_recsim_params')['seeds']}")
    job_kwargs = dict(n_jobs=arguments.n_jobs, progress_bar=not arguments.no_progress)
    save_ground_truth(recording, sorting, output, format=arguments.format, overwrite=arguments.overwrite,
                      allow_large=arguments.allow_large, **job_kwargs)
    print(f"Ground truth written to {output}/ (recording/, sorting/, params.yaml)")
    return 0


def _hybrid(arguments: argparse.Namespace) -> int:
    from si_recsim.io.convert import load_recording
    from si_recsim.recording.ground_truth import save_ground_truth
    from si_recsim.recording.hybrid import generate_hybrid_ground_truth

    output = _new_output(arguments)
    parent = load_recording(arguments.parent)
    recording, sorting = generate_hybrid_ground_truth(parent, arguments.params, motion=arguments.motion, seed=arguments.seed,
                                                      bank=arguments.bank, allow_large=arguments.allow_large,
                                                      **dict(arguments.set or []))
    params = recording.get_annotation("si_recsim_params")
    section = params["recordings"]
    band = f"filtered {section['filter_cutoff']} Hz" if section["filter"] else "unfiltered"
    print(f"{sorting.get_num_units()} units injected into {parent.get_num_channels()} channels, "
          f"{recording.get_total_duration():g} s ({band}, like the parent; parent noise {section['noise_level']:.2f} uV"
          f"{', moving with the motion' if arguments.motion else ''}); seeds: {params['seeds']}")
    save_ground_truth(recording, sorting, output, format=arguments.format, overwrite=arguments.overwrite,
                      allow_large=arguments.allow_large, n_jobs=arguments.n_jobs,
                      progress_bar=not arguments.no_progress)
    print(f"Hybrid ground truth written to {output}/ (recording/, sorting/, params.yaml)")
    return 0


def _gen_templates(arguments: argparse.Namespace) -> int:
    from si_recsim.biophysics.template_generation import generate_template_library

    output = _new_output(arguments)
    overrides = dict(arguments.set or [])
    for key in ("n", "seed", "probe"):
        if getattr(arguments, key) is not None:
            overrides[key] = getattr(arguments, key)
    bank = arguments.bank
    if arguments.cell_models is not None:
        if bank is not None:
            raise InputError("--cell-models simulates cell models with NEURON; --bank reads stored currents: give one.")
        overrides["cell_models"] = arguments.cell_models.split(",")
    elif bank is None:
        bank = "default"
    library = generate_template_library(arguments.params, bank=bank,
                                        output=output if arguments.format == "si_recsim" else None,
                                        n_jobs=arguments.n_jobs, cache_folder=arguments.cache_folder,
                                        progress_bar=not arguments.no_progress, mpi=arguments.mpi,
                                        overwrite=arguments.overwrite, allow_large=arguments.allow_large,
                                        **overrides)
    if library is None:  # an MPI rank other than 0: rank 0 writes and reports
        return 0
    if arguments.format == "mearec":
        from si_recsim.library.mearec_templates import write_mearec_templates

        write_mearec_templates(library, output, overwrite=arguments.overwrite)
    counts = {name: details["n_templates"] for name, details in library.info["models"].items()}
    print(f"{library.num_templates} templates ({counts}) on {library.probe.model_name or 'probe'} "
          f"({library.num_channels} channels), seed {library.info['params']['seed']}: written to {output}")
    return 0


def _plot_templates(arguments: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from si_recsim.library.loading import load_template_library
    from si_recsim.plotting import plot_drift_trajectory, plot_library, save_figure

    output = _new_output(arguments)
    library = load_template_library(arguments.library)
    if arguments.drift is not None:
        plot_drift_trajectory(library, arguments.drift)
    else:
        plot_library(library)
    save_figure(plt.gcf(), output, overwrite=arguments.overwrite)
    print(f"Figure written to {arguments.output}")
    return 0


def _plot_recordings(arguments: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from si_recsim.plotting import plot_ground_truth, save_figure
    from si_recsim.recording.ground_truth import UNIT_TEMPLATES_FILE, load_ground_truth

    output = _new_output(arguments)
    recording, sorting = load_ground_truth(arguments.folder)
    unit_templates = None
    if (Path(arguments.folder) / UNIT_TEMPLATES_FILE).is_file():
        from si_recsim.library.library_file import read_template_library

        unit_templates = read_template_library(Path(arguments.folder) / UNIT_TEMPLATES_FILE)
    figure = plot_ground_truth(recording, sorting, tuple(arguments.time_range), unit_templates)
    save_figure(figure, output, overwrite=arguments.overwrite)
    print(f"Figure written to {output}")
    return 0


def _convert(arguments: argparse.Namespace) -> int:
    from si_recsim.io.convert import convert

    target = convert(arguments.source, arguments.target, arguments.to, overwrite=arguments.overwrite,
                     progress_bar=not arguments.no_progress, spikes=arguments.spikes,
                     electrodes_file=arguments.electrodes_file, weights_units=arguments.weights_units,
                     population=arguments.population, allow_large=arguments.allow_large)
    print(f"Written {target}")
    return 0


def _compute_lfp(arguments: argparse.Namespace) -> int:
    from si_recsim.io.convert import save_offline_lfp

    target = save_offline_lfp(arguments.electrodes_file, arguments.report, arguments.output, arguments.spikes,
                              to=arguments.to, weights_units=arguments.weights_units, population=arguments.population,
                              overwrite=arguments.overwrite, progress_bar=not arguments.no_progress,
                              allow_large=arguments.allow_large)
    print(f"Written {target}")
    return 0


def _cell_sources(arguments: argparse.Namespace) -> dict:
    """Population → cell source from a geometry file (.h5) or a SONATA circuit / simulation config (.json)."""
    from si_recsim.sonata.geometry_file import geometry_file_populations

    source = Path(arguments.source)
    if source.suffix.lower() != ".json":
        circuit_only = [flag for flag, value in (("--population", arguments.population), ("--node-set", arguments.node_set),
                                                 ("--report", arguments.report)) if value]
        if circuit_only:
            raise InputError(f"{', '.join(circuit_only)} apply to a SONATA config (.json), not to the geometry "
                             f"file {source}.")
        return geometry_file_populations(source)
    from si_recsim.sonata.circuits.circuit_cells import circuit_populations
    from si_recsim.sonata.circuits.discretisation import RuleDiscretisation

    rule = RuleDiscretisation(segment_length=arguments.segment_length, soma_segments=arguments.soma_segments,
                              stub_segments=arguments.stub_segments, myelin_segments=arguments.myelin_segments)
    reports = arguments.report
    if reports and len(reports) == 1 and "=" not in reports[0]:
        reports = reports[0]
    elif reports:
        pairs = [item.split("=", 1) for item in reports]
        if any(len(pair) != 2 for pair in pairs):
            raise InputError("--report takes one report file, or POPULATION=FILE items.")
        reports = dict(pairs)
    return circuit_populations(source, populations=arguments.population, node_set=arguments.node_set,
                               reports=reports, rule=rule, replace_axons=not arguments.no_replace_axons,
                               morphology_format=arguments.morphology_format)


def _rows_written(file_path: Path, populations: dict) -> dict:
    """Rows per population of a geometry or electrodes file (the last ``offsets``)."""
    import h5py

    with h5py.File(file_path, "r") as file:
        return {population: int(file[population]["offsets"][-1]) for population in populations}


def _write_positions(arguments: argparse.Namespace) -> int:
    from si_recsim.sonata.geometry_file import write_geometry

    output = _new_output(arguments)
    populations = _cell_sources(arguments)
    written = write_geometry(populations, output, cells_per_batch=arguments.cells_per_batch,
                             progress_bar=not arguments.no_progress, overwrite=arguments.overwrite)
    print(f"Segments {_rows_written(written, populations)} written to {written}")
    return 0


def _write_weights(arguments: argparse.Namespace) -> int:
    from si_recsim.sonata.electrodes import read_electrodes
    from si_recsim.sonata.electrodes_file import write_electrodes_file

    output = _new_output(arguments)
    electrodes = read_electrodes(arguments.electrodes)
    populations = _cell_sources(arguments)
    written = write_electrodes_file(populations, electrodes, output, sigma=arguments.sigma or 0.277,
                                    units=arguments.units, with_neurite_types=arguments.with_neurite_type,
                                    array_indices=arguments.array_indices, lead_fields=arguments.lead_field,
                                    progress_bar=not arguments.no_progress, n_jobs=arguments.n_jobs,
                                    mpi=arguments.mpi, cells_per_batch=arguments.cells_per_batch,
                                    overwrite=arguments.overwrite)
    if written is None:  # an MPI rank other than 0
        return 0
    rows = _rows_written(written, populations)
    how = ""
    if arguments.mpi:
        from mpi4py import MPI

        from si_recsim.sonata.mpi_writing import mpi_write_mode

        how = f" by {MPI.COMM_WORLD.Get_size()} MPI rank(s), {mpi_write_mode()}"
    print(f"{len(electrodes)} electrodes x {rows} compartments ({arguments.units}) written to {output}{how}")
    return 0


def _compare_weights(arguments: argparse.Namespace) -> int:
    from si_recsim.sonata.electrodes_file_reader import compare_electrodes_files

    problems = compare_electrodes_files(arguments.first, arguments.second, rtol=arguments.rtol, atol=arguments.atol)
    for problem in problems:
        print(problem)
    print("equal" if not problems else f"{len(problems)} difference(s)")
    return 0 if not problems else 1


def _inspect_weights(arguments: argparse.Namespace) -> int:
    from si_recsim.atomic import check_output
    from si_recsim.sonata.weights_inspection import (
        compare_by_neurite_type,
        format_summary,
        summarise_electrodes_file,
        validate_electrodes_file,
    )

    files = [arguments.file] + ([arguments.other] if arguments.other else [])
    if arguments.plot:
        check_output(arguments.plot, arguments.overwrite)
    valid = True
    for path in files:
        problems = validate_electrodes_file(path, report=arguments.report)
        print(f"{path}: " + ("valid" if not problems else f"{len(problems)} problem(s)"))
        for problem in problems:
            print(f"  {problem}")
        valid &= not problems
    summary = summarise_electrodes_file(arguments.file)
    print(format_summary(summary))
    if arguments.other:
        print(f"{arguments.file} against {arguments.other}, per neurite type:")
        for population, groups in compare_by_neurite_type(arguments.file, arguments.other).items():
            for name, values in groups.items():
                print(f"  {population} {name:7s} {values['rows']:9d} rows: largest difference "
                      f"{values['max_abs_difference']:.3g} ({values['max_relative_difference']:.3g} of the largest "
                      f"coefficient), correlation {values['correlation']:.6f}")
    if arguments.plot:
        from si_recsim.plotting import plot_weights_summary, save_figure

        save_figure(plot_weights_summary(summary, arguments.population), arguments.plot, overwrite=arguments.overwrite)
        print(f"Written {arguments.plot}")
    return 0 if valid else 1


def _compare_recordings(arguments: argparse.Namespace) -> int:
    from si_recsim.atomic import check_output
    from si_recsim.io.convert import load_recording
    from si_recsim.recording.realism import compare_recordings, format_scorecard

    if arguments.plot:
        check_output(arguments.plot, arguments.overwrite)
    result = compare_recordings(load_recording(arguments.simulated), load_recording(arguments.reference),
                                duration=arguments.duration)
    print(format_scorecard(result))
    if arguments.plot:
        from si_recsim.plotting import plot_scorecard, save_figure

        save_figure(plot_scorecard(result), arguments.plot, overwrite=arguments.overwrite)
        print(f"Written {arguments.plot}")
    return 0


def _fit_noise(arguments: argparse.Namespace) -> int:
    from si_recsim.atomic import check_output
    from si_recsim.io.convert import load_recording
    from si_recsim.recording.fitted_noise import fit_noise_model

    check_output(arguments.output, arguments.overwrite)
    model = fit_noise_model(load_recording(arguments.recording), duration=arguments.duration)
    model.save(arguments.output, overwrite=arguments.overwrite)
    std = np.sqrt(np.diag(model.covariance))
    print(f"Noise of {model.num_channels} channels, {std.min():.2f}-{std.max():.2f} uV, written to {arguments.output}; "
          f"use it with --set recordings.noise_mode=fitted --set recordings.noise_model={arguments.output}")
    return 0


def _place_probe(arguments: argparse.Namespace) -> int:
    from si_recsim.atomic import TEXT_MARKER, atomic_text, check_output
    from si_recsim.probes import probe_from_name
    from si_recsim.sonata.circuits.nodes import biophysical_populations, resolve_config
    from si_recsim.sonata.circuits.probe_placement import electrode_table_text, place_probe

    check_output(arguments.output, arguments.overwrite)
    population = arguments.population
    if population is None:
        populations = biophysical_populations(resolve_config(arguments.config).circuit_config)
        if len(populations) != 1:
            raise InputError(f"The circuit has biophysical populations {populations}: choose one with --population.")
        population = populations[0]
    electrodes = place_probe(arguments.config, probe_from_name(arguments.probe), population,
                             node_set=arguments.node_set, center=arguments.center, axis=arguments.axis,
                             kind=arguments.type)
    comment = f"{TEXT_MARKER} place-probe {arguments.probe} in {arguments.config}, population {population}"
    atomic_text(arguments.output, electrode_table_text(electrodes, comment), overwrite=arguments.overwrite)
    first, last = ([round(value, 1) for value in electrodes[index].position] for index in (0, -1))
    print(f"{len(electrodes)} electrodes from {first} to {last} um written to {arguments.output}")
    return 0


def _available_probes(arguments: argparse.Namespace) -> int:
    from si_recsim.probes import available_probe_names, neuropixels_part_numbers, probe_from_name

    for name in available_probe_names():
        probe = probe_from_name(name)
        print(f"{name:20s} {probe.get_contact_count():4d} contacts  {probe.annotations.get('mearec_description', '')}")
    parts = neuropixels_part_numbers()
    if parts:
        print(f"Neuropixels parts (probeinterface's table, all electrode sites): {' '.join(parts)}")
    return 0


def _default_params(arguments: argparse.Namespace) -> int:
    from si_recsim.params.recordings import default_recording_params_yaml
    from si_recsim.params.templates import default_template_params_yaml

    text = default_recording_params_yaml() if arguments.kind == "recordings" else default_template_params_yaml()
    if arguments.output is None:
        print(text, end="")
        return 0
    from si_recsim.atomic import atomic_text

    output = atomic_text(_new_output(arguments), text, overwrite=arguments.overwrite)
    print(f"Default {arguments.kind} parameters written to {output}")
    return 0


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that shows every option's default: argparse's when it has one, the help text's own otherwise."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _add_ground_truth_output_options(command: argparse.ArgumentParser) -> None:
    """The options of commands that write a ground-truth folder (save_ground_truth)."""
    command.add_argument("--format", choices=("binary", "zarr"), default="binary", help="trace format")
    command.add_argument("-j", "--n-jobs", type=_n_jobs, default=1, help="parallel processes (-1: all cores)")
    command.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    command.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    command.add_argument("--allow-large", action="store_true", help="skip the check that refuses runs larger than "
                         "this machine's memory or free disk")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``si-recsim``."""
    from si_recsim.version import __version__

    parser = argparse.ArgumentParser(prog="si-recsim", description="Ground-truth extracellular recordings for "
                                     "SpikeInterface.", formatter_class=_DefaultsFormatter)
    parser.add_argument("--version", action="version", version=f"si-recsim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = functools.partial(commands.add_parser, formatter_class=_DefaultsFormatter)

    generate = add("gen-recordings", help="generate a ground-truth recording and sorting",
                                   description="Generate a ground-truth recording and sorting into a folder "
                                   "(recording/, sorting/, params.yaml). Parameters follow MEArec's "
                                   "recordings_params.yaml.")
    generate.add_argument("-p", "--params", help="YAML parameter file (MEArec layout; missing keys use defaults; "
                          "default: the defaults of si-recsim default-params recordings)")
    generate.add_argument("-t", "--templates",
                          help="a template library instead of the cell bank: a library from gen-templates, a MEArec "
                          "template .h5, or 'default' (the embedded library of the built-in models on Neuronexus-32) "
                          "(default: templates computed from --bank for --probe)")
    generate.add_argument("--probe", help="record with this probe (si-recsim available-probes: a MEArec name or a "
                          "Neuropixels part number); templates computed from --bank for it (default: Neuronexus-32)")
    generate.add_argument("--bank", default="default", help="cell bank for --probe: 'default' (Blue Brain L5 "
                          "models, CC BY-NC-SA 4.0), 'builtin' (MIT) or a bank file (default: default)")
    generate.add_argument("-o", "--output", default="gt_recording", help="output folder (default: gt_recording)")
    generate.add_argument("-d", "--duration", type=float, help="duration in s (spiketrains.duration; default: 10, "
                          "or the parameter file's)")
    generate.add_argument("-s", "--seed", type=int, help="global seed; every unset stage seed derives from it "
                          "(default: drawn at random, printed and saved in params.yaml)")
    generate.add_argument("--set", action="append", type=_parse_assignment, metavar="KEY=VALUE",
                          help="override one parameter, e.g. --set recordings.noise_level=5 (repeatable)")
    _add_ground_truth_output_options(generate)
    generate.set_defaults(handler=_gen_recordings)

    hybrid = add("hybrid", help="inject ground-truth units into a recording of yours",
                 description="Inject ground-truth units, their templates computed from a cell bank for the "
                 "recording's own probe, into a saved SpikeInterface recording (or a ground-truth folder, or a "
                 "MEArec file), and write the hybrid ground truth to a folder (recording/, sorting/, params.yaml). "
                 "The hybrid keeps the parent's dtype, gains and filter state; parameters (units, rates, selection, "
                 "modulation, bursting) follow recordings_params.yaml.")
    hybrid.add_argument("parent", help="the recording: a SpikeInterface recording folder (recording.save) with a "
                        "probe, a ground-truth folder or a MEArec recording")
    hybrid.add_argument("-o", "--output", default="hybrid_recording", help="output folder")
    hybrid.add_argument("-p", "--params", help="YAML parameter file for the units (MEArec layout)")
    hybrid.add_argument("--motion", help="a SpikeInterface Motion folder (motion.save) of the parent: the units move "
                        "with it (default: static units)")
    hybrid.add_argument("--bank", default="default", help="cell bank the templates are computed from")
    hybrid.add_argument("-s", "--seed", type=int, help="global seed (default: drawn at random, printed and saved)")
    hybrid.add_argument("--set", action="append", type=_parse_assignment, metavar="KEY=VALUE",
                        help="override one parameter, e.g. --set spiketrains.n_exc=20 (repeatable)")
    _add_ground_truth_output_options(hybrid)
    hybrid.set_defaults(handler=_hybrid)

    templates = add("gen-templates", help="place cell models in front of a probe: a template library",
                                    description="Place cell models in front of a probe and write a template "
                                    "library: from a cell bank's stored membrane currents (numpy only; the default) "
                                    "or simulating cell models with NEURON + LFPy (--cell-models). Parameters follow "
                                    "MEArec's templates_params.yaml. Finished tasks are kept in OUTPUT.parts/, so an "
                                    "interrupted run resumes.")
    templates.add_argument("-p", "--params", help="YAML parameter file (MEArec layout; missing keys use defaults; "
                           "default: the defaults of si-recsim default-params templates)")
    templates.add_argument("-o", "--output", default="templates.h5", help="library file (default: templates.h5)")
    templates.add_argument("--probe", help="probe name (si-recsim available-probes; default: Neuronexus-32, or the "
                           "parameter file's probe)")
    templates.add_argument("-n", type=int, help="templates per cell model (default: 50, or the parameter file's n)")
    templates.add_argument("-s", "--seed", type=int, help="library seed (default: drawn at random and saved in the "
                           "library)")
    templates.add_argument("--bank", help="cell bank: 'default' (13 Blue Brain layer-5 models, CC BY-NC-SA 4.0), "
                           "'builtin' (MIT) or a bank file (default: 'default' unless --cell-models is given)")
    templates.add_argument("--cell-models", help="simulate with NEURON instead of a bank; comma-separated: builtin, "
                           "mearec (an installed MEArec's models), built-in model names or NMC-portal model folders "
                           "(default: none, the bank is used)")
    templates.add_argument("--set", action="append", type=_parse_assignment, metavar="KEY=VALUE",
                           help="override one parameter, e.g. --set min_amp=50 (repeatable)")
    templates.add_argument("-j", "--n-jobs", type=_n_jobs, default=1, help="parallel processes")
    templates.add_argument("--mpi", action="store_true", help="spread the work over MPI ranks (run under mpirun; "
                           "needs mpi4py)")
    templates.add_argument("--cache-folder", help="intracellular cache (default: $SI_RECSIM_CACHE or "
                           "~/.cache/si_recsim)")
    templates.add_argument("--format", choices=("si_recsim", "mearec"), default="si_recsim",
                           help="library file format (mearec: MEArec's template file)")
    templates.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    templates.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    templates.add_argument("--allow-large", action="store_true", help="skip the check that refuses libraries larger "
                           "than this machine's memory")
    templates.set_defaults(handler=_gen_templates)

    plot = add("plot-templates", help="draw a template library on its probe (needs matplotlib)")
    plot.add_argument("library", help="'default', a library from gen-templates, or a MEArec template file")
    plot.add_argument("-o", "--output", default="templates.png", help="image file (default: templates.png)")
    plot.add_argument("--drift", type=int, metavar="INDEX", help="draw the drift trajectory of this template")
    plot.add_argument("--overwrite", action="store_true", help="replace an existing image written by si-recsim")
    plot.set_defaults(handler=_plot_templates)

    recordings_plot = add("plot-recordings", help="draw a ground-truth folder: traces with spikes, probe with units, "
                          "templates (needs matplotlib)")
    recordings_plot.add_argument("folder", help="a ground-truth folder (gen-recordings or convert --to binary/zarr)")
    recordings_plot.add_argument("-o", "--output", default="recording.png", help="image file")
    recordings_plot.add_argument("--time-range", type=float, nargs=2, default=[0.0, 0.2], metavar=("START", "END"),
                                 help="seconds of traces to draw")
    recordings_plot.add_argument("--overwrite", action="store_true", help="replace an existing image written by "
                                 "si-recsim")
    recordings_plot.set_defaults(handler=_plot_recordings)

    conversion = add("convert", help="convert recordings or template libraries between formats",
                                     description="Recordings: a MEArec recording file or a ground-truth folder to "
                                     "'mearec', 'binary' or 'zarr'; a neurodamus LFP report (summed over cells) "
                                     "with its spike file to 'binary' or 'zarr'. Template libraries (si_recsim or "
                                     "MEArec) to 'library' or 'mearec-templates'.")
    conversion.add_argument("source", help="a MEArec recording or template file, a ground-truth folder, an si_recsim "
                            "template library or a neurodamus LFP report")
    conversion.add_argument("target", help="the file or folder to write")
    conversion.add_argument("--to", required=True, choices=("mearec", "binary", "zarr", "nwb", "library", "mearec-templates"),
                            help="target format: mearec, binary or zarr (ground-truth folder), nwb (needs the nwb "
                            "extra) for recordings; library or mearec-templates for template libraries")
    report = conversion.add_argument_group("neurodamus LFP reports (to binary or zarr)")
    report.add_argument("--spikes", help="the simulation's SONATA spike file (out.h5): the sorting (required for "
                        "LFP reports)")
    report.add_argument("--electrodes-file", help="the electrodes file of the report: channel names and a probe "
                        "(default: none, channels named by index without positions)")
    report.add_argument("--weights-units", choices=("V/nA", "mV/nA"), default="V/nA",
                        help="unit of the electrodes file's coefficients (sets gains to µV)")
    report.add_argument("--population", help="sum only this population (default: all of them)")
    conversion.add_argument("--overwrite", action="store_true", help="replace an existing target")
    conversion.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    conversion.add_argument("--allow-large", action="store_true", help="skip the free-disk check")
    conversion.set_defaults(handler=_convert)

    circuit = argparse.ArgumentParser(add_help=False)
    circuit.add_argument("source", help="SONATA circuit or simulation config (.json), or a segment geometry file "
                         "(.h5, from write-positions or si_recsim.sonata.write_geometry)")
    group = circuit.add_argument_group("SONATA circuit options")
    group.add_argument("--population", nargs="+", help="biophysical populations (default: all)")
    group.add_argument("--node-set", help="node set (default: the simulation config's, else all nodes)")
    group.add_argument("--report", nargs="+", metavar="[POP=]FILE",
                       help="compartment report of the same circuit giving the segments of each section "
                       "(recommended); default: the length rule below")
    group.add_argument("--segment-length", type=float, default=40.0,
                       help="rule without a report: nseg = 1 + 2 floor(L / this), µm (default 40)")
    group.add_argument("--soma-segments", type=int, default=1, help="rule: soma segments (default 1)")
    group.add_argument("--stub-segments", type=int, default=1, help="rule: segments of each axon stub (default 1; "
                       "newer BBP templates 5)")
    group.add_argument("--myelin-segments", type=int, default=0, help="rule: myelin segments, 0 = no myelin "
                       "(default 0; newer BBP templates 5)")
    group.add_argument("--no-replace-axons", action="store_true",
                       help="keep the reconstructed axon instead of the stub (+ myelin) sections of BBP templates")
    group.add_argument("--morphology-format", choices=("h5", "asc", "swc"),
                       help="default: the first of h5, asc, swc that exists")
    circuit.add_argument("--cells-per-batch", type=int, default=512, help="cells in memory at once (default 512)")

    positions = add("write-positions", parents=[circuit],
                                    help="write the segment geometry of a SONATA circuit (no NEURON)",
                                    description="Segment boundary points of every cell, rows in neurodamus' section "
                                    "order, as a geometry file write-weights reads.")
    positions.add_argument("output", help="geometry file to write (.h5)")
    positions.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    positions.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    positions.set_defaults(handler=_write_positions)

    weights = add("write-weights", parents=[circuit], help="write a SONATA electrodes file for neurodamus",
                                  description="Coefficients of every compartment for every electrode (LineSource, "
                                  "PointSource, ObjectiveCSD, Reciprocity, DipoleReciprocity, FourSphere) in "
                                  "BlueRecording's electrodes-file layout, from a SONATA circuit or a geometry file.")
    weights.add_argument("electrodes", help="electrode table (.csv name,x,y,z,layer,region,type or BlueRecording .json)")
    weights.add_argument("output", help="electrodes file to write (.h5)")
    weights.add_argument("--sigma", type=float, nargs="+", help="conductivity in S/m: one, or one per electrode "
                         "(default: 0.277)")
    weights.add_argument("--units", choices=("V/nA", "mV/nA"), default="V/nA",
                         help="coefficient unit (default V/nA, BlueRecording's; the LFP report is then in volts)")
    weights.add_argument("--with-neurite-type", action="store_true", help="add /<population>/neurite_types")
    weights.add_argument("--array-indices", nargs="+", metavar="A:B", help="ObjectiveCSD arrays as index ranges "
                         "(default: one array of all ObjectiveCSD electrodes)")
    weights.add_argument("--lead-field", nargs="+", metavar="FILE",
                         help="Sim4Life lead-field files, one per (Dipole)Reciprocity electrode in table order "
                         "(default: none)")
    weights.add_argument("-j", "--n-jobs", type=_n_jobs, default=1, help="processes (-1: all cores)")
    weights.add_argument("--mpi", action="store_true", help="spread cells over MPI ranks (run under mpirun; mpi4py)")
    weights.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    weights.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    weights.set_defaults(handler=_write_weights)

    compare = add("compare-weights", help="compare two electrodes files (node order agnostic)")
    compare.add_argument("first", help="an electrodes file")
    compare.add_argument("second", help="the electrodes file to compare it with")
    compare.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance on coefficients")
    compare.add_argument("--atol", type=float, default=0.0, help="absolute tolerance on coefficients")
    compare.set_defaults(handler=_compare_weights)

    lfp = add("compute-lfp", help="the LFP of a compartment report through an electrodes file, without neurodamus",
              description="Multiplies the membrane currents of a SONATA compartment report (neurodamus i_membrane, "
              "compartments all) by the coefficients of an electrodes file, summed over cells: the signal "
              "neurodamus would report. Saved with the simulation's spikes as a ground-truth folder or NWB file.")
    lfp.add_argument("electrodes_file", help="SONATA electrodes file (write-weights or BlueRecording)")
    lfp.add_argument("report", help="SONATA compartment report of membrane currents (nA) of the same cells")
    lfp.add_argument("output", help="ground-truth folder (binary, zarr) or .nwb file to write")
    lfp.add_argument("--spikes", required=True, help="the simulation's SONATA spike file (out.h5): the sorting")
    lfp.add_argument("--to", choices=("binary", "zarr", "nwb"), default="binary", help="output format")
    lfp.add_argument("--weights-units", choices=("V/nA", "mV/nA"), default="V/nA",
                     help="unit of the electrodes file's coefficients (sets gains to µV)")
    lfp.add_argument("--population", help="the population to use (default: the one both files have)")
    lfp.add_argument("--overwrite", action="store_true", help="replace an existing output")
    lfp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    lfp.add_argument("--allow-large", action="store_true", help="skip the free-disk check")
    lfp.set_defaults(handler=_compute_lfp)

    noise = add("fit-noise", help="fit a noise model (covariance, spectrum) to a recording",
                description="Masks spikes (SpikeInterface's peak detection) and fits the channels' covariance and "
                "spectral shape; gen-recordings then regenerates that noise with --set recordings.noise_mode=fitted "
                "--set recordings.noise_model=MODEL.")
    noise.add_argument("recording", help="a ground-truth folder, a SpikeInterface recording folder or a MEArec file")
    noise.add_argument("output", help="noise model to write (.npz)")
    noise.add_argument("--duration", type=float, default=30.0, help="seconds fitted, from the start")
    noise.add_argument("--overwrite", action="store_true", help="replace an existing model written by si-recsim")
    noise.set_defaults(handler=_fit_noise)

    scorecard = add("compare-recordings", help="a realism scorecard: a recording beside a reference",
                    description="Noise spectrum, noise level, noise correlation against distance, detected peak "
                    "amplitudes, spike widths and peak rates of two recordings, with their distances (KS statistics "
                    "for distributions) and an optional figure.")
    scorecard.add_argument("simulated", help="a ground-truth folder, a SpikeInterface recording folder or a MEArec file")
    scorecard.add_argument("reference", help="the recording to compare with (same kinds)")
    scorecard.add_argument("--duration", type=float, default=30.0, help="seconds compared, from the start")
    scorecard.add_argument("--plot", help="write the side-by-side figure to this image (.png)")
    scorecard.add_argument("--overwrite", action="store_true", help="replace an existing image written by si-recsim")
    scorecard.set_defaults(handler=_compare_recordings)

    placement = add("place-probe", help="an electrode table of a probe placed along a circuit's column",
                    description="Places a named probe with its shank along the principal axis of the somata "
                    "(pointing to +y) and its contact centre at their centroid (or --axis, --center), and "
                    "writes the electrode table (name,x,y,z,layer,region,type) for write-weights, layer and "
                    "region from the nearest soma's node attributes.")
    placement.add_argument("config", help="SONATA circuit or simulation config (.json)")
    placement.add_argument("probe", help="a probe name (si-recsim available-probes) or Neuropixels part number")
    placement.add_argument("output", help="electrode table to write (.csv)")
    placement.add_argument("--population", help="population whose somata define the column (default: the one "
                           "biophysical population)")
    placement.add_argument("--node-set", help="node set of those somata (default: the config's, or all)")
    placement.add_argument("--center", type=float, nargs=3, metavar=("X", "Y", "Z"),
                           help="circuit coordinates of the contact centre, um (default: the somata's centroid)")
    placement.add_argument("--axis", type=float, nargs=3, metavar=("X", "Y", "Z"),
                           help="shank direction (default: the somata's principal axis)")
    placement.add_argument("--type", default="LineSource", help="electrode type of every contact")
    placement.add_argument("--overwrite", action="store_true", help="replace an existing table written by si-recsim")
    placement.set_defaults(handler=_place_probe)

    inspect = add("inspect-weights", help="check, summarise and compare electrodes files",
                  description="Checks an electrodes file's structure (offsets, node ids, finite coefficients, "
                  "electrode columns and names, rows per node against a compartment report), summarises its "
                  "coefficients per neurite type and electrode, and compares it with another file per neurite "
                  "type. Exit status 1 when a file has problems.")
    inspect.add_argument("file", help="electrodes file")
    inspect.add_argument("other", nargs="?", help="a second electrodes file of the same cells to compare with")
    inspect.add_argument("--report", help="compartment report of the same cells: rows per node are checked against it")
    inspect.add_argument("--plot", help="write the coefficient distributions to this image (.png)")
    inspect.add_argument("--population", help="population to plot (default: the first)")
    inspect.add_argument("--overwrite", action="store_true", help="replace an existing image written by si-recsim")
    inspect.set_defaults(handler=_inspect_weights)

    defaults = add("default-params", help="print the default parameters as commented YAML",
                                   description="The default parameters of gen-recordings or gen-templates, each key "
                                   "with its meaning and unit (MEArec's layout): start a parameter file from them and "
                                   "keep only what you change.")
    defaults.add_argument("kind", choices=("recordings", "templates"))
    defaults.add_argument("-o", "--output", help="write to this file instead of printing (default: print)")
    defaults.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    defaults.set_defaults(handler=_default_params)

    probes = add("available-probes", help="list the named probes")
    probes.set_defaults(handler=_available_probes)
    return parser


#: Python names in library messages → the command line's
_CLI_TERMS = {"pass --overwrite (overwrite=True)": "pass --overwrite", "pass allow_large=True (--allow-large)":
              "pass --allow-large", "(population=...)": "(--population)", "overwrite=True": "--overwrite",
              "allow_large=True": "--allow-large", "cells_per_batch must": "--cells-per-batch must"}


def _in_cli_terms(message: str) -> str:
    for python, command_line in _CLI_TERMS.items():
        message = message.replace(python, command_line)
    return message


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that partial outputs are removed on the way out."""


def _raise_terminated(signum, frame):
    raise Terminated()


# problems the user can fix: one line, exit 2; anything else is a bug and keeps its traceback
USER_ERRORS = (InputError, SetupError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
               PermissionError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``si-recsim``; returns the exit status.

    User errors (:mod:`si_recsim.errors`, missing or existing paths, permissions) print one line and
    return 2; Ctrl-C returns 130 and SIGTERM 143, after removing partial outputs.
    """
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:  # bare si-recsim: what it can do
        parser.print_help()
        return 0
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return arguments.handler(arguments)
    except USER_ERRORS as error:
        print(f"error: {_in_cli_terms(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated: nothing was written", file=sys.stderr)
        return 143
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
