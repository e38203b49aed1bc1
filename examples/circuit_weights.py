"""Weights for neurodamus from a SONATA circuit, no NEURON needed: a Neuropixels shank beside the
5 cells of neurodamus' v5 test circuit.

Run with ``python examples/circuit_weights.py [v5_sonata folder] [output folder]``; the folder
defaults to ``../shared/data/neurodamus_tests/v5_sonata`` (needs libsonata, MorphIO and matplotlib,
e.g. the ``test`` extra). It writes the electrodes file, the segment geometry and a figure of the
coefficients of one contact drawn on the morphologies.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from si_recsim.plotting import save_figure  # noqa: E402
from si_recsim.probes import probe_from_name  # noqa: E402
from si_recsim.sonata.circuits.circuit_cells import CircuitCells
from si_recsim.sonata.electrodes import electrodes_from_probe
from si_recsim.sonata.electrodes_file import write_electrodes_file
from si_recsim.sonata.electrodes_file_reader import read_electrodes_file
from si_recsim.sonata.geometry_file import read_geometry, write_geometry

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "neurodamus_tests" / "v5_sonata"


def main(data: Path, output: Path) -> dict:
    output.mkdir(parents=True, exist_ok=True)

    # 1. the circuit: nodes, node set and morphologies from the simulation config; segments per
    #    section from one of its compartment reports (exactly what neurodamus instantiated)
    cells = CircuitCells(data / "simulation_config_mini.json", "default",
                         report=data / "reference" / "reports" / "compartment_i_membrane.h5")
    print(f"{len(cells.node_ids)} cells of population 'default'")

    # 2. the probe: the lowest 400 µm of a Neuropixels 1.0 shank, along the cortical column (+y in
    #    these circuits), 40 µm in front of the cells
    probe = probe_from_name("NP1000")
    probe = probe.get_slice(np.flatnonzero(probe.contact_positions[:, 1] < 400))
    somata = np.array([cell.soma_center for cell in cells.load(cells.node_ids)])
    origin = np.array([somata[:, 0].mean() - 24.0, somata[:, 1].min() - 100.0, somata[:, 2].min() - 40.0])
    electrodes = electrodes_from_probe(probe, position=origin, kind="LineSource", region="S1")
    print(f"{len(electrodes)} LineSource electrodes from {probe.model_name or 'Neuropixels'} contacts")

    # 3. the electrodes file neurodamus reads, and the geometry behind it
    weights_path = write_electrodes_file({"default": cells}, electrodes, output / "electrodes.h5",
                                         with_neurite_types=True, progress_bar=True, overwrite=True)
    geometry_path = write_geometry({"default": cells}, output / "geometry.h5", overwrite=True)
    weights = read_electrodes_file(weights_path)["populations"]["default"]
    print(f"electrodes file: {weights['scaling_factors'].shape[0]} compartments x "
          f"{weights['scaling_factors'].shape[1]} electrodes (V/nA) -> {weights_path}")

    # 4. look: one contact's coefficients on the morphologies (x-y view, the column axis up)
    geometry = read_geometry(geometry_path)["default"]
    contact = int(np.argmin(np.linalg.norm(np.array([e.position for e in electrodes]) - somata.mean(axis=0), axis=1)))
    factors = weights["scaling_factors"][:, contact]
    figure, axis = plt.subplots(figsize=(6, 8))
    lines = np.concatenate([np.stack([cell.starts[:, :2], cell.ends[:, :2]], axis=1) for cell in geometry])
    drawn = LineCollection(lines, array=np.log10(np.abs(factors) + 1e-12), cmap="viridis", linewidths=1.0)
    axis.add_collection(drawn)
    positions = np.array([electrode.position for electrode in electrodes])
    axis.scatter(positions[:, 0], positions[:, 1], s=6, c="k", marker="s", label="contacts")
    axis.scatter(*positions[contact, :2], s=40, c="r", marker="s", label=electrodes[contact].name)
    axis.scatter(somata[:, 0], somata[:, 1], s=30, c="orange", label="somata")
    axis.autoscale()
    axis.set_aspect("equal")
    axis.set_xlabel("x (µm)")
    axis.set_ylabel("y (µm, column axis)")
    axis.legend(loc="upper right")
    figure.colorbar(drawn, ax=axis, label=f"log10 |coefficient| for {electrodes[contact].name} (V/nA)")
    save_figure(figure, output / "coefficients_on_morphologies.png", overwrite=True)
    print(f"figure -> {output / 'coefficients_on_morphologies.png'}")
    return dict(weights=weights, contact=contact, n_electrodes=len(electrodes))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA,
         Path(sys.argv[2]) if len(sys.argv) > 2 else Path("circuit_weights_output"))
