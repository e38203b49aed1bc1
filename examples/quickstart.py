"""First steps with si_recsim: generate, look, save, reload.

Run with ``python examples/quickstart.py [output_folder]`` (needs matplotlib, e.g. the ``test`` or
``plot`` extra). Figures are written as PNG files next to the saved ground truth.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import spikeinterface.core as si  # noqa: E402
import spikeinterface.widgets as sw  # noqa: E402

import si_recsim  # noqa: E402
from si_recsim.plotting import save_figure  # noqa: E402


def main(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)

    # 1. generate: MEArec-style parameters, here 20 s with bursting units
    recording, sorting = si_recsim.generate_ground_truth(
        seed=0, **{"spiketrains.duration": 20, "recordings.bursting": True, "recordings.n_bursting": 3})
    print(recording)
    print(sorting)
    print("cell types:", sorting.get_property("cell_type"))
    print("seeds used:", recording.get_annotation("si_recsim_params")["seeds"])

    # 2. look: SpikeInterface's own widgets on the ground truth
    analyzer = si.create_sorting_analyzer(sorting, recording, format="memory", sparse=True)
    analyzer.compute(["random_spikes", "templates", "unit_locations"])
    sw.plot_spikes_on_traces(analyzer, time_range=(1.0, 1.15), backend="matplotlib")
    save_figure(plt.gcf(), output / "spikes_on_traces.png", overwrite=True)  # replaces only images it wrote

    # SpikeInterface's probe map, with the ground-truth cell positions drawn on top (it has no
    # widget for known locations without estimating them)
    probe_widget = sw.plot_probe_map(recording, backend="matplotlib")
    locations = sorting.get_property("gt_unit_locations")
    colors = np.where(sorting.get_property("cell_type") == "E", "tab:red", "tab:blue")
    probe_widget.ax.scatter(locations[:, 0], locations[:, 1], c=colors, s=40, zorder=10)
    for unit_id, (x, y, z) in zip(sorting.unit_ids, locations):
        probe_widget.ax.annotate(f"{unit_id} ({z:.0f} um)", (x, y), fontsize=7, zorder=11)
    probe_widget.ax.set_title("units (red E, blue I) with distance from the probe")
    save_figure(plt.gcf(), output / "probe_and_units.png", overwrite=True)

    # 3. save: traces, ground-truth sorting with properties, parameters and seeds
    folder = si_recsim.save_ground_truth(recording, sorting, output / "ground_truth", overwrite=True, n_jobs=2)

    # 4. reload and check it is the same data
    reloaded_recording, reloaded_sorting = si_recsim.load_ground_truth(folder)
    same = np.array_equal(reloaded_recording.get_traces(end_frame=32000), recording.get_traces(end_frame=32000))
    print(f"saved to {folder}; reloaded traces identical: {same}; properties: {reloaded_sorting.get_property_keys()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("quickstart_output"))
