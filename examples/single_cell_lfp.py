"""One Blue Brain layer-5 thick-tufted pyramidal cell as a one-cell SONATA circuit: weights for a
Neuropixels shank, its membrane currents simulated with NEURON, the LFP through
``si_recsim.compute_lfp`` (what neurodamus would report), and a figure of the extracellular signals.

The cell is MEArec's copy of the NMC-portal model L5_TTPC1_cADpyr232_1 (CC BY-NC-SA 4.0, Blue Brain
Project), simulated with LFPy under a somatic current step. Its membrane currents are written as a
SONATA compartment report whose element ids are neurodamus' section ids (soma 0, the two
replaced-axon sections 1 and 2, dendrites after the original axon count, then apicals), so the
weights are computed exactly as for a neurodamus run (rows from that report). The dendrites' share
of the LFP is cross-checked against LFPykit's line-source model on LFPy's own segments (moved back
to the morphology's frame: LFPy centres the soma). The soma and the replaced axon follow
neurodamus/BlueRecording conventions instead (the soma a point at the node position, the two
axon stubs laid along the reconstructed axon), which LFPy's geometry does not share.

Usage::

    python examples/single_cell_lfp.py OUTPUT_FOLDER

Needs the templates, weights and test extras (NEURON, LFPy, LFPykit, libsonata, MorphIO, MEArec).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import h5py
import numpy as np

MODEL = "L5_TTPC1_cADpyr232_1"
SIGMA = 0.277  # S/m
REPORT_DT = 0.025  # ms, the report's (and the LFP's) sampling step: every simulation step


def simulate(folder: Path, tstop: float = 150.0, dt: float = 0.025, amplitude: float = 0.8):
    """The LFPy cell after a somatic current step, with its membrane currents (nA)."""
    import LFPy
    from neuron import h

    from si_recsim.biophysics.nmc_models import nmc_cell_models

    model = nmc_cell_models([folder])[0]
    h.celsius = model.celsius
    cell = model.make_cell(dt, tstop)
    LFPy.StimIntElectrode(cell, idx=int(cell.get_idx("soma")[0]), pptype="IClamp", amp=amplitude, dur=tstop - 20.0,
                          delay=20.0)
    cell.simulate(rec_imem=True)
    return cell


def neurodamus_section_ids(cell, n_axon_sections: int, n_basal_sections: int) -> np.ndarray:
    """neurodamus' global section id of every LFPy segment (BBP templates with replaced axons)."""
    offsets = {"soma": 0, "axon": 1, "dend": 1 + n_axon_sections, "apic": 1 + n_axon_sections + n_basal_sections}
    ids = []
    for section in cell.allseclist:
        kind, index = re.search(r"\.(soma|axon|dend|apic)\[(\d+)\]$", section.name()).groups()
        ids.extend([offsets[kind] + int(index)] * section.nseg)
    return np.array(ids, dtype=np.int64)


def one_cell_circuit(folder: Path, morphology: Path) -> Path:
    """A SONATA circuit of one cell at the origin, unrotated (the model's own frame)."""
    (folder / "morphologies").mkdir(parents=True)
    (folder / "morphologies" / morphology.name).symlink_to(morphology.resolve())
    with h5py.File(folder / "nodes.h5", "w") as file:
        group = file.create_group("nodes/default")
        group["node_type_id"] = np.array([-1])
        attributes = group.create_group("0")
        for key, value in dict(x=0.0, y=0.0, z=0.0, orientation_w=1.0, orientation_x=0.0, orientation_y=0.0,
                               orientation_z=0.0).items():
            attributes[key] = np.array([value])
        attributes.create_dataset("morphology", data=[morphology.stem], dtype=h5py.string_dtype())
        attributes.create_dataset("model_template", data=[f"hoc:{MODEL}"], dtype=h5py.string_dtype())
    config = {"components": {"morphologies_dir": str(folder / "morphologies"), "biophysical_neuron_models_dir": str(folder)},
              "networks": {"nodes": [{"nodes_file": str(folder / "nodes.h5"), "populations": {
                  "default": {"type": "biophysical", "alternate_morphologies":
                              {"neurolucida-asc": str(folder / "morphologies")}}}}], "edges": []}}
    path = folder / "circuit_config.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def write_report(path: Path, currents: np.ndarray, section_ids: np.ndarray, dt: float) -> Path:
    """A SONATA compartment report (one node, id 0) of ``currents`` (n_segments, n_times) nA, every
    REPORT_DT ms, the columns in the cell's segment order (not sorted by section id, as neurodamus
    writes them)."""
    step = int(round(REPORT_DT / dt))
    data = currents[:, ::step].T.astype(np.float32)
    with h5py.File(path, "w") as file:
        group = file.create_group("report/default")
        dataset = group.create_dataset("data", data=data)
        dataset.attrs["units"] = "nA"
        group["mapping/node_ids"] = np.array([0], dtype=np.uint64)
        group["mapping/index_pointers"] = np.array([0, data.shape[1]], dtype=np.uint64)
        group["mapping/element_ids"] = section_ids.astype(np.uint32)
        group["mapping/time"] = np.array([0.0, data.shape[0] * REPORT_DT, REPORT_DT])
        group["mapping/time"].attrs["units"] = "ms"
    return path


def main(output: Path) -> dict:
    import MEArec
    import morphio
    from lfpykit import CellGeometry, LineSourcePotential

    from si_recsim import compute_lfp, probe_from_name
    from si_recsim.plotting import save_figure
    from si_recsim.sonata.circuits.circuit_cells import CircuitCells
    from si_recsim.sonata.circuits.probe_placement import column_frame
    from si_recsim.sonata.electrodes import electrodes_from_probe
    from si_recsim.sonata.electrodes_file import write_electrodes_file

    if output.exists() and any(output.iterdir()):
        raise SystemExit(f"{output} is not empty: give a new folder (this example writes a circuit, a report and "
                         "files into it).")
    output.mkdir(parents=True, exist_ok=True)
    folder = Path(MEArec.get_default_cell_models_folder()) / MODEL
    morphology = sorted((folder / "morphology").glob("*.asc"))[0]
    cell = simulate(folder)
    loaded = morphio.Morphology(str(morphology), options=morphio.Option.nrn_order)
    types = [section.type.name for section in loaded.sections]
    section_ids = neurodamus_section_ids(cell, types.count("axon"), types.count("basal_dendrite"))

    circuit = output / "circuit"
    config = one_cell_circuit(circuit, morphology)
    report = write_report(output / "compartment_i_membrane.h5", np.asarray(cell.imem), section_ids, cell.dt)
    # a Neuropixels shank along the apical axis (+y), its contacts centred 40 µm beside the cell
    probe = probe_from_name("Neuropixels-384")
    _, rotation = column_frame(np.zeros((1, 3)), axis=(0.0, 1.0, 0.0))
    from si_recsim.probes import contact_positions_3d

    centre = np.array([40.0, 600.0, 0.0]) - contact_positions_3d(probe).mean(axis=0) @ rotation.T
    electrodes = electrodes_from_probe(probe, centre, rotation)
    weights = write_electrodes_file({"default": CircuitCells(config, "default", report=report)}, electrodes,
                                    output / "weights.h5", sigma=SIGMA)
    lfp = compute_lfp(weights, report)
    traces_uV = lfp.get_traces(return_in_uV=True)

    # the dendrites' share: LFPykit's line sources on LFPy's segments (in the morphology's frame) against
    # compute_lfp of a report whose soma and axon currents are zero
    dendritic = section_ids > 2
    currents = np.asarray(cell.imem) * dendritic[:, None]
    dendrites_only = compute_lfp(weights, write_report(output / "dendrites_i_membrane.h5", currents, section_ids,
                                                       cell.dt)).get_traces(return_in_uV=True)
    shift = np.asarray(loaded.soma.center, dtype=float)
    positions = np.array([electrode.position for electrode in electrodes])
    geometry = CellGeometry(x=np.asarray(cell.x) + shift[0], y=np.asarray(cell.y) + shift[1],
                            z=np.asarray(cell.z) + shift[2], d=np.asarray(cell.d))
    transfer = LineSourcePotential(geometry, x=positions[:, 0], y=positions[:, 1], z=positions[:, 2],
                                   sigma=SIGMA).get_transformation_matrix()  # mV/nA
    step = int(round(REPORT_DT / cell.dt))
    lfpykit_uV = (transfer @ currents[:, ::step]).T[: len(dendrites_only)] * 1e3
    difference = np.abs(dendrites_only - lfpykit_uV).max() / np.abs(lfpykit_uV).max()
    correlation = np.corrcoef(dendrites_only.ravel(), lfpykit_uV.ravel())[0, 1]

    import matplotlib.pyplot as plt

    spike = int(np.argmax(np.asarray(cell.somav)[::step]))
    window = slice(max(spike - 30, 0), spike + 60)
    time_ms = np.arange(len(traces_uV))[window] * REPORT_DT
    figure, (geometry_axis, trace_axis) = plt.subplots(1, 2, figsize=(11, 7), gridspec_kw=dict(width_ratios=[1, 2]))
    for x, y in zip(np.asarray(cell.x) + shift[0], np.asarray(cell.y) + shift[1]):
        geometry_axis.plot(x, y, color="0.5", linewidth=0.5)
    geometry_axis.plot(positions[:, 0], positions[:, 1], ".", color="tab:red", markersize=2)
    geometry_axis.set(aspect="equal", xlabel="x (µm)", ylabel="y (µm)", ylim=(-400, 1300), title=MODEL)
    column = np.isclose(positions[:, 0], positions[:, 0].min())  # one column of contacts, by depth
    shown = [index for index in np.flatnonzero(column)[np.argsort(positions[column, 1])]
             if -300 <= positions[index, 1] <= 1200][::4]
    scale = 40.0 / np.abs(traces_uV[window][:, shown]).max()  # µm of the plot per µV: the largest spans 40 µm
    for channel in shown:
        depth = positions[channel, 1]
        trace_axis.plot(time_ms, depth + scale * traces_uV[window, channel], color="k", linewidth=0.8)
        trace_axis.plot(time_ms, depth + scale * dendrites_only[window, channel], color="tab:blue", linewidth=0.6)
        trace_axis.plot(time_ms, depth + scale * lfpykit_uV[window, channel], color="tab:orange", linewidth=0.6,
                        linestyle="--")
    trace_axis.set(xlabel="time (ms)", ylabel="contact depth y (µm)",
                   title=f"a spike's LFP (black, largest {np.abs(traces_uV[window][:, shown]).max():.0f} µV)\n"
                   "the dendrites' share: compute_lfp (blue), LFPykit (orange, dashed)")
    image = save_figure(figure, output / "single_cell_lfp.png")
    summary = dict(segments=int(cell.totnsegs), correlation=float(correlation), difference=float(difference),
                   image=image, peak_uV=float(np.abs(traces_uV).max()))
    print(f"{cell.totnsegs} segments, {len(electrodes)} electrodes; LFP peak {summary['peak_uV']:.1f} µV; the "
          f"dendrites' share against LFPykit: correlation {correlation:.6f}, largest difference "
          f"{difference:.2e} of its peak; figure {image}")
    return summary


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
