"""Hybrid ground truth side by side: si_recsim's and SpikeInterface's, injected into the same recording.

The parent stands for a lab's recording: SpikeInterface's ground-truth generator on a two-column
probe (its own 8 units and noise), band-passed as a sorter would see it. Into it, each tool injects
10 units:

- ``si_recsim.generate_hybrid_ground_truth``: templates computed from the Blue Brain cell bank for
  the parent's probe (placed cells, filtered by the parent's own filter), MEArec's spike trains and
  amplitude modulation;
- ``spikeinterface.generation.generate_hybrid_recording``: SpikeInterface's synthetic templates at
  random positions, Poisson trains.

What each injects is measured the same way for both, on hybrid minus parent (mean waveform at the
injected spikes): amplitude and trough-to-peak width on the largest channel, and the channels the
unit reaches. Then a sorter runs on both hybrids and SpikeInterface compares its output with the
injected units. Two differences show beyond the waveforms: SpikeInterface's templates go in as they
are whatever the parent's filter (si_recsim's pass through it, with its zero-phase ringing), and
SpikeInterface's hybrid keeps its sorting in memory, so it is saved before sorting while
si_recsim's is sorted lazily.

Usage::

    python examples/hybrid_comparison.py OUTPUT_FOLDER [DURATION_S] [SORTER]

Needs the test extra (tridesclous2's numba, hdbscan) and matplotlib. The output folder must not
exist: this example never deletes one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import spikeinterface.core as sc
import spikeinterface.preprocessing as sp
from probeinterface import generate_multi_columns_probe
from spikeinterface.comparison import compare_sorter_to_ground_truth
from spikeinterface.generation import generate_hybrid_recording
from spikeinterface.sorters import run_sorter

import si_recsim

FS = 30000.0
N_UNITS = 10
BEFORE_MS, AFTER_MS = 1.0, 2.0


def parent_recording(folder: Path, duration: float):
    """A lab's recording stand-in: SpikeInterface's generator on 32 contacts (its own 8 units), saved
    raw to ``folder`` as a lab's recording would be, band-passed lazily as a sorter would see it."""
    probe = generate_multi_columns_probe(num_columns=2, num_contact_per_column=16, xpitch=30, ypitch=25,
                                         contact_shapes="square", contact_shape_params={"width": 12})
    probe.set_device_channel_indices(np.arange(32))
    raw, _ = sc.generate_ground_truth_recording(durations=[duration], sampling_frequency=FS, num_channels=32,
                                                num_units=8, probe=probe, seed=11,
                                                noise_kwargs=dict(noise_levels=8.0, strategy="on_the_fly"))
    saved = raw.save(folder=folder, progress_bar=False)
    return sp.bandpass_filter(saved, freq_min=300.0, freq_max=6000.0)


def injected_features(hybrid, parent, sorting) -> dict:
    """Per injected unit, from hybrid minus parent averaged at its spikes: peak amplitude (µV, largest
    channel), trough-to-peak width (ms) and the channels reaching 30 % of the peak."""
    before, after = int(BEFORE_MS * FS / 1000), int(AFTER_MS * FS / 1000)
    residual = hybrid.get_traces(return_in_uV=True) - parent.get_traces(return_in_uV=True)
    amplitudes, widths, extents, waveforms = [], [], [], []
    for unit_id in sorting.unit_ids:
        frames = sorting.get_unit_spike_train(unit_id)
        frames = frames[(frames >= before) & (frames < len(residual) - after)]
        mean = np.mean([residual[frame - before: frame + after] for frame in frames], axis=0)
        peaks = np.abs(mean).max(axis=0)
        main = int(np.argmax(peaks))
        trough = int(np.argmin(mean[:, main]))
        amplitudes.append(peaks[main])
        widths.append((np.argmax(mean[trough:, main]) / FS) * 1000.0)
        extents.append(int(np.sum(peaks >= 0.3 * peaks[main])))
        waveforms.append(mean[:, main])
    return dict(amplitude_uV=np.array(amplitudes), width_ms=np.array(widths), channels=np.array(extents),
                waveforms=np.array(waveforms))


def sorter_accuracy(hybrid, gt_sorting, sorter: str, folder: Path) -> np.ndarray:
    """Accuracy of each injected unit in the sorter's output (SpikeInterface's comparison; the sorter also
    finds the parent's own units, which the comparison leaves unmatched)."""
    sorted_units = run_sorter(sorter, hybrid, folder=folder, verbose=False)
    comparison = compare_sorter_to_ground_truth(gt_sorting, sorted_units, exhaustive_gt=False)
    return comparison.get_performance()["accuracy"].to_numpy(dtype=float)


def plot(features: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(features), figsize=(5 * len(features), 3.5), sharey=True)
    time_ms = np.arange(-int(BEFORE_MS * FS / 1000), int(AFTER_MS * FS / 1000)) / FS * 1000.0
    for axis, (name, values) in zip(axes, features.items()):
        axis.plot(time_ms, values["waveforms"].T, lw=1)
        axis.set(title=f"{name}: injected units (largest channel)", xlabel="ms")
    axes[0].set_ylabel("µV (hybrid - parent)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(output: Path, duration: float = 60.0, sorter: str = "tridesclous2") -> dict:
    if output.exists():
        raise SystemExit(f"{output} exists: give another folder (this example never deletes one).")
    output.mkdir(parents=True)
    parent = parent_recording(output / "parent", duration)
    ours, ours_gt = si_recsim.generate_hybrid_ground_truth(
        parent, seed=0, **{"spiketrains.n_exc": 8, "spiketrains.n_inh": 2, "templates.min_amp": 40})
    theirs, theirs_gt = generate_hybrid_recording(
        parent, seed=0, generate_sorting_kwargs=dict(num_units=N_UNITS, firing_rates=10.0, refractory_period_ms=4.0))
    # SpikeInterface's hybrid holds its sorting in memory only: it must be saved before a sorter can read it;
    # si_recsim's is sorted lazily (it serialises to JSON like its parent)
    print(f"lazily sortable: si_recsim {ours.check_serializability('json')}, "
          f"SpikeInterface {theirs.check_serializability('pickle')}")
    theirs = theirs.save(folder=output / "spikeinterface_hybrid", progress_bar=False)
    hybrids = {"si_recsim": (ours, ours_gt), "SpikeInterface": (theirs, theirs_gt)}
    features = {name: injected_features(hybrid, parent, gt) for name, (hybrid, gt) in hybrids.items()}
    print(f"parent: {parent.get_num_channels()} channels, {duration:g} s, band-passed; noise "
          f"{ours.get_annotation('si_recsim_params')['recordings']['noise_level']:.1f} uV")
    print(f"{'injected units (median [min-max])':38s}" + "".join(f"{name:>28s}" for name in features))
    for key, label in (("amplitude_uV", "amplitude, largest channel (uV)"), ("width_ms", "trough-to-peak width (ms)"),
                       ("channels", "channels >= 30 % of the peak")):
        cells = [f"{np.median(values[key]):.2f} [{values[key].min():.2f}-{values[key].max():.2f}]"
                 for values in features.values()]
        print(f"{label:38s}" + "".join(f"{cell:>28s}" for cell in cells))
    summary = dict(features=features)
    for name, (hybrid, gt) in hybrids.items():
        accuracy = sorter_accuracy(hybrid, gt, sorter, output / f"{sorter}_{name}")
        summary[name] = accuracy
        print(f"{sorter} on the {name} hybrid: mean accuracy {np.mean(accuracy):.2f}, "
              f"{int(np.sum(accuracy >= 0.8))}/{len(accuracy)} injected units with accuracy >= 0.8")
    plot(features, output / "injected_units.png")
    print(f"Written {output / 'injected_units.png'}")
    return summary


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("hybrid_comparison"),
         float(sys.argv[2]) if len(sys.argv) > 2 else 60.0, sys.argv[3] if len(sys.argv) > 3 else "tridesclous2")
