"""Benchmark a spike sorter against si_recsim's ground truth with SpikeInterface's SorterStudy.

Run with ``python examples/sorter_benchmark.py [study_folder] [duration_s]`` (needs the ``test``
extra: spykingcircus2's numba and hdbscan). The lazy recording goes into the study as it is: no
``save()`` first. An existing study folder is never deleted: the script stops and asks for another one.
"""

import sys
from pathlib import Path

import numpy as np
from spikeinterface.benchmark import SorterStudy

import si_recsim


def main(study_folder: Path, duration: float = 30.0, sorter: str = "spykingcircus2") -> dict:
    if study_folder.exists():
        raise SystemExit(f"{study_folder} exists: give another study folder (this example never deletes one).")
    recording, gt_sorting = si_recsim.generate_ground_truth(seed=0, **{"spiketrains.duration": duration})
    study = SorterStudy.create(
        study_folder,
        datasets={"si_recsim": (recording, gt_sorting)},
        cases={sorter: dict(label=sorter, dataset="si_recsim", params=dict(sorter_name=sorter))},
    )
    study.run(verbose=False)
    study.compute_results()
    performance = study.get_performance_by_unit().reset_index()
    amplitudes = gt_sorting.get_property("filtered_peak_uV")  # the amplitude the sorter sees
    performance["filtered_peak_uV"] = amplitudes
    performance["cell_type"] = gt_sorting.get_property("cell_type")
    print(performance[["gt_unit_id", "cell_type", "filtered_peak_uV", "accuracy", "recall", "precision"]]
          .to_string(index=False))
    accuracy = performance["accuracy"].to_numpy(dtype=float)
    summary = dict(mean_accuracy=float(np.mean(accuracy)), well_detected=int(np.sum(accuracy >= 0.8)),
                   n_units=int(len(accuracy)), accuracy=accuracy, amplitudes=amplitudes)
    print(f"{sorter}: mean accuracy {summary['mean_accuracy']:.2f}, {summary['well_detected']}/{summary['n_units']} "
          "units with accuracy >= 0.8")
    return summary


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("sorter_study")
    main(folder, float(sys.argv[2]) if len(sys.argv) > 2 else 30.0)
