"""The two halves of the package agree: weights written for a one-cell SONATA circuit, applied to the
cell's simulated membrane currents, give the template that template generation computes for the same
cell, position, rotation and electrodes (no method of images)."""

import h5py
import numpy as np
import pytest

pytest.importorskip("LFPy")
pytest.importorskip("libsonata")
pytest.importorskip("morphio")

from si_recsim.biophysics.cell_models import builtin_cell_model
from si_recsim.biophysics.intracellular import IntracellularSettings, simulate_spikes
from si_recsim.library.placement import eap_from_currents, place_segments
from si_recsim.sonata.circuits.circuit_cells import CircuitCells
from si_recsim.sonata.electrodes import Electrode
from si_recsim.sonata.electrodes_file import write_electrodes_file
from si_recsim.sonata.electrodes_file_reader import read_electrodes_file

SWC_TYPES = {"axon": 2, "dend": 3, "apic": 4}
POSITION = np.array([120.0, -40.0, 65.0])
ANGLES = np.array([0.4, -1.1, 2.3])  # rad, about x, then y, then z


def _sections(model):
    """NEURON sections of the model's LFPy cell: name, kind, end points, LFPy segment indices, parent."""
    cell = model.make_cell(0.025, 1.0)
    sections = []
    for section in cell.allseclist:
        name = section.name()
        points = np.array([[section.x3d(i), section.y3d(i), section.z3d(i)] for i in range(section.n3d())])
        parent = section.parentseg().sec.name() if section.parentseg() is not None else None
        sections.append(dict(name=name, kind=name.split("[")[0], points=points,
                             segments=np.asarray(cell.get_idx(section=name)), parent=parent))
    soma = np.asarray(cell.somapos, dtype=float)
    for section in sections:
        section["points"] = section["points"] - soma
    return sections


def _write_circuit(folder, sections):
    """SWC morphology, nodes file (Euler angles), circuit config and a compartment report with the model's nseg."""
    import json

    soma = next(section for section in sections if section["kind"] == "soma")
    lines, last_sample = [f"1 1 0 0 0 {np.ptp(soma['points'][:, 1]) / 2:.17g} -1"], {}
    for section in sections:  # written in LFPy's order; MorphIO's nrn_order then groups axon, basal, apical
        if section["kind"] == "soma":
            continue
        start, end = section["points"][0], section["points"][-1]
        parent = 1 if section["parent"] == soma["name"] else last_sample[section["parent"]]
        kind = SWC_TYPES[section["kind"]]
        if section["parent"] == soma["name"]:
            lines.append(f"{len(lines) + 1} {kind} {start[0]:.17g} {start[1]:.17g} {start[2]:.17g} 0.5 {parent}")
            parent = len(lines)
        lines.append(f"{len(lines) + 1} {kind} {end[0]:.17g} {end[1]:.17g} {end[2]:.17g} 0.5 {parent}")
        last_sample[section["name"]] = len(lines)
    (folder / "morphologies").mkdir()
    (folder / "morphologies" / "cell.swc").write_text("\n".join(lines) + "\n")
    with h5py.File(folder / "nodes.h5", "w") as file:
        group = file.create_group("nodes/cells/0")
        file["nodes/cells/node_type_id"] = np.zeros(1, dtype=np.int64)
        for axis, value in zip("xyz", POSITION):
            group[axis] = np.array([value])
        for axis, value in zip("xyz", ANGLES):
            group[f"rotation_angle_{axis}axis"] = np.array([value])
        group["morphology"] = np.array(["cell"], dtype=h5py.string_dtype())
        group["model_type"] = np.array(["biophysical"], dtype=h5py.string_dtype())
    (folder / "circuit_config.json").write_text(json.dumps({
        "manifest": {"$BASE_DIR": "./"}, "components": {"morphologies_dir": "$BASE_DIR/morphologies",
                                                      "biophysical_neuron_models_dir": "$BASE_DIR"},
        "networks": {"nodes": [{"nodes_file": "$BASE_DIR/nodes.h5",
                                "populations": {"cells": {"type": "biophysical"}}}], "edges": []}}))
    ids = _section_ids(sections)
    element_ids = np.concatenate([np.full(len(section["segments"]), ids[section["name"]]) for section in sections])
    with h5py.File(folder / "report.h5", "w") as file:
        group = file.create_group("report/cells")
        group["data"] = np.zeros((1, len(element_ids)), dtype=np.float32)
        group["mapping/node_ids"] = np.array([0], dtype=np.uint64)
        group["mapping/index_pointers"] = np.array([0, len(element_ids)], dtype=np.uint64)
        group["mapping/element_ids"] = element_ids.astype(np.uint32)
        group["mapping/time"] = np.array([0.0, 1.0, 1.0])
        group["mapping/time"].attrs["units"] = "ms"
        group["data"].attrs["units"] = "mV"
    return folder / "circuit_config.json"


def _section_ids(sections):
    """neurodamus' ids: soma 0, then axon, basal, apical sections, each kind in file order."""
    ids, next_id = {}, 1
    for kind in ("soma", "axon", "dend", "apic"):
        for section in sections:
            if section["kind"] == kind:
                ids[section["name"]] = 0 if kind == "soma" else next_id
                next_id += kind != "soma"
    return ids


@pytest.mark.parametrize("model_name", ["builtin_BC", "builtin_PC"])
def test_weights_times_membrane_currents_equal_the_template(model_name, tmp_path):
    model = builtin_cell_model(model_name)
    spikes = simulate_spikes(model, IntracellularSettings.from_params(), cache_folder=tmp_path / "cache")
    sections = _sections(model)
    config = _write_circuit(tmp_path, sections)
    rng = np.random.default_rng(0)
    electrodes = [Electrode(f"e{i}", tuple(POSITION + offset))
                  for i, offset in enumerate(rng.uniform(-60, 60, size=(6, 3)))]
    cells = CircuitCells(config, "cells", report=tmp_path / "report.h5", replace_axons=False)
    written = write_electrodes_file({"cells": cells}, electrodes, tmp_path / "weights.h5", sigma=0.3)
    weights = read_electrodes_file(written)["populations"]["cells"]["scaling_factors"]  # V/nA

    # rows (section id, segment) → LFPy segments
    ids = _section_ids(sections)
    by_id = sorted(sections, key=lambda section: ids[section["name"]])
    lfpy_index = np.concatenate([section["segments"] for section in by_id])
    assert len(lfpy_index) == weights.shape[0] == spikes.currents.shape[1]
    currents = spikes.currents[0].astype(np.float64)  # nA, one spike
    from_weights = 1e6 * weights.T @ currents[lfpy_index]  # µV

    starts, ends = place_segments(spikes.starts, spikes.ends, POSITION, ANGLES)
    points = np.array([electrode.position for electrode in electrodes])[:, None, :]
    _assert_outside_every_distance_floor(points[:, 0], starts, ends, spikes.diameters, spikes.somatic)
    template = eap_from_currents(points, starts, ends, spikes.diameters, currents, 0.3, 1.0, somatic=spikes.somatic,
                                 soma_center=POSITION)  # template generation, source_model soma_as_point
    scale = np.abs(template).max()
    assert scale > 1.0  # µV: a real spike, not zeros
    assert np.allclose(from_weights, template, rtol=1e-5, atol=1e-6 * scale)
    line_soma = eap_from_currents(points, starts, ends, spikes.diameters, currents, 0.3, 1.0)  # MEArec's default
    assert 0 < np.abs(line_soma - template).max() < 0.05 * scale  # only the soma's own term differs


def _assert_outside_every_distance_floor(points, starts, ends, diameters, somatic):
    """Electrodes farther than a radius from every segment line and soma centre, where the distance floors
    of the two halves (segment radius everywhere vs 1 µm beside the segment) would differ."""
    centres = (starts[somatic] + ends[somatic]) / 2
    for point in points:
        assert np.all(np.linalg.norm(point - centres, axis=1) > diameters[somatic] / 2)
    starts, ends, diameters = starts[~somatic], ends[~somatic], diameters[~somatic]
    axis = ends - starts
    length = np.linalg.norm(axis, axis=1)
    unit = axis / np.maximum(length, 1e-12)[:, None]
    for point in points:
        offset = point - starts
        along = np.sum(offset * unit, axis=1)
        radial = np.linalg.norm(offset - along[:, None] * unit, axis=1)
        assert np.all(radial[length > 0] > diameters[length > 0] / 2)
