"""Template realism: si_recsim's templates next to MEArec's Blue Brain library, side by side.

The reference is the MEArec template library of the peer data (``../shared/data/mearec``: MEArec
1.11's ``gen-templates -n 5`` on its 13 Blue Brain layer-5 models, Neuronexus-32). Each candidate set
is made on the same probe:

* ``bank`` — the library the default recording uses (``generate_ground_truth()``: the default cell
  bank on Neuronexus-32, 10 near cells per model), for the library seed ``--seed``;
* ``builtin library`` — the embedded default library (three built-in Hodgkin-Huxley models).

Every template is band-passed like a recording (Butterworth 300-6000 Hz, order 3, zero phase). On the
channel of the largest trough it measures the trough-to-peak time, the half-width, the peak/trough
ratio and the amplitude; across channels, the decay length of the amplitude with distance from
that contact; and the amplitude against the distance of the cell from the nearest contact. Each
scalar is compared with the reference by the two-sample Kolmogorov-Smirnov statistic. A logistic
regression on the normalised main-channel waveforms (5-fold cross-validated) tells how separable a
set is from the reference (0.5: indistinguishable). Targets of the realism issue: accuracy at most
0.7, units up to at least 400 µV near the probe, at least 10 cell models, a narrow-spiking class
(trough-to-peak below 0.45 ms) or the README says which classes are missing.

Usage::

    python benchmarks/bench_realism.py [--reference PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.signal
import scipy.stats

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "mearec" / "templates_n5_Neuronexus-32_seed0.h5"
WINDOW_MS = (1.0, 2.0)  # around the trough, for the classifier


def filtered(templates: np.ndarray, fs: float) -> np.ndarray:
    """(n, samples, channels) band-passed 300-6000 Hz like a recording (edges padded)."""
    sos = scipy.signal.butter(3, [300, 6000], btype="bandpass", fs=fs, output="sos")
    pad = templates.shape[1]
    padded = np.pad(templates, ((0, 0), (pad, pad), (0, 0)), mode="edge")
    return scipy.signal.sosfiltfilt(sos, padded, axis=1)[:, pad:-pad]


def features(library) -> dict:
    """Per-template waveform and spatial features of a static library's filtered templates."""
    fs = library.sampling_frequency
    templates = filtered(library.templates.astype(float), fs)
    contacts = np.column_stack([library.probe.contact_positions, np.zeros(library.num_channels)])
    main = np.argmin(templates.min(axis=1), axis=1)
    out = {key: [] for key in ("trough_to_peak_ms", "half_width_ms", "peak_trough_ratio", "amplitude_uV",
                               "decay_length_um", "distance_um")}
    waveforms = []
    before, after = (int(round(ms * fs / 1000.0)) for ms in WINDOW_MS)
    for template, channel, location in zip(templates, main, library.locations):
        trace = template[:, channel]
        trough = int(np.argmin(trace))
        depth = -trace[trough]
        peak = trough + int(np.argmax(trace[trough:]))
        below = np.flatnonzero(trace < -depth / 2)
        out["trough_to_peak_ms"].append((peak - trough) / fs * 1000.0)
        out["half_width_ms"].append((below.max() - below.min() + 1) / fs * 1000.0)
        out["peak_trough_ratio"].append(trace[peak] / depth)
        out["amplitude_uV"].append(depth)
        spans = np.abs(template).max(axis=0)
        distance = np.linalg.norm(contacts - contacts[channel], axis=1)
        useful = spans > 0.05 * spans.max()
        slope = np.polyfit(distance[useful], np.log(spans[useful]), 1)[0] if useful.sum() > 2 else np.nan
        out["decay_length_um"].append(-1.0 / slope if slope < 0 else np.nan)
        out["distance_um"].append(np.linalg.norm(contacts - location, axis=1).min())
        start = trough - before
        window = trace[max(start, 0): trough + after]
        window = np.pad(window, (max(-start, 0), before + after - len(window) - max(-start, 0)), mode="edge")
        waveforms.append(window / depth)
    result = {key: np.asarray(values) for key, values in out.items()}
    result["waveforms"] = np.asarray(waveforms)
    result["cell_models"] = np.asarray(library.cell_models)
    return result


def classifier_accuracy(ours: np.ndarray, reference: np.ndarray, seed: int = 0) -> float:
    """5-fold cross-validated accuracy of a logistic regression telling the two sets of waveforms apart."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = min(len(ours), len(reference))  # balanced classes: chance is 0.5
    data = np.concatenate([ours[rng.choice(len(ours), n, replace=False)],
                           reference[rng.choice(len(reference), n, replace=False)]])
    labels = np.repeat([0, 1], n)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, data, labels, cv=folds).mean())


def diversity(waveforms: np.ndarray) -> float:
    """Mean pairwise correlation distance between normalised main-channel waveforms."""
    correlation = np.corrcoef(waveforms)
    return float(1.0 - correlation[np.triu_indices(len(waveforms), 1)].mean())


def summary(name: str, values: np.ndarray, reference: np.ndarray) -> str:
    values, reference = values[np.isfinite(values)], reference[np.isfinite(reference)]
    ks = scipy.stats.ks_2samp(values, reference).statistic
    return (f"  {name:20s} {np.median(values):9.3g} [{np.percentile(values, 10):7.3g}, {np.percentile(values, 90):7.3g}]"
            f"   ref {np.median(reference):9.3g} [{np.percentile(reference, 10):7.3g}, "
            f"{np.percentile(reference, 90):7.3g}]   KS {ks:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=str(REFERENCE))
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    import si_recsim
    from si_recsim.library.bank_library import bank_library_spec, library_from_bank
    from si_recsim.library.mearec_templates import read_mearec_templates

    reference = read_mearec_templates(arguments.reference).static()
    packaged = si_recsim.load_template_library("default")
    near = slice(0, packaged.info["n_near"])  # its cells 10-80 um from the probe, as the reference's
    candidates = {
        "bank (the default recording's library)": library_from_bank(bank_library_spec("Neuronexus-32",
                                                                                      seed=arguments.seed)),
        "builtin library": si_recsim.TemplateLibrary(
            templates=packaged.templates[near], locations=packaged.locations[near],
            cell_models=packaged.cell_models[near], sampling_frequency=packaged.sampling_frequency,
            nbefore=packaged.nbefore, probe=packaged.probe),
    }
    ref = features(reference)
    print(f"reference: {arguments.reference} ({reference.num_templates} templates, "
          f"{len(set(reference.cell_models))} cell models)")
    for name, library in candidates.items():
        ours = features(library)
        print(f"\n{name}: {library.num_templates} templates, {len(set(library.cell_models))} cell models "
              "(median [10th, 90th percentile], KS statistic against the reference)")
        for key in ("trough_to_peak_ms", "half_width_ms", "peak_trough_ratio", "amplitude_uV", "decay_length_um",
                    "distance_um"):
            print(summary(key, ours[key], ref[key]))
        close = ours["distance_um"] < 40
        slope_ours = np.polyfit(np.log(ours["distance_um"]), np.log(ours["amplitude_uV"]), 1)[0]
        slope_ref = np.polyfit(np.log(ref["distance_um"]), np.log(ref["amplitude_uV"]), 1)[0]
        print(f"  amplitude ~ distance^k: k = {slope_ours:.2f} (ref {slope_ref:.2f}); largest "
              f"{ours['amplitude_uV'].max():.0f} uV (ref {ref['amplitude_uV'].max():.0f}); "
              f"{int(close.sum())} cells within 40 um of a contact")
        narrow = ours["trough_to_peak_ms"] < 0.45
        narrow_models = sorted({str(model) for model in ours["cell_models"][narrow]})
        print(f"  narrow-spiking (trough-to-peak < 0.45 ms): {narrow.mean():.0%} of templates, models "
              f"{narrow_models or 'none'} (ref {np.mean(ref['trough_to_peak_ms'] < 0.45):.0%})")
        print(f"  waveform diversity (mean correlation distance): {diversity(ours['waveforms']):.3f} "
              f"(ref {diversity(ref['waveforms']):.3f})")
        accuracy = classifier_accuracy(ours["waveforms"], ref["waveforms"], arguments.seed)
        print(f"  classifier accuracy against the reference: {accuracy:.2f} (chance 0.50, target <= 0.70)")


if __name__ == "__main__":
    main()
