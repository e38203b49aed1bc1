import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # whole example scripts: heavier than the fast lane

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_example_runs(tmp_path):
    completed = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path)], capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "reloaded traces identical: True" in completed.stdout
    assert (tmp_path / "spikes_on_traces.png").stat().st_size > 10_000
    assert (tmp_path / "probe_and_units.png").stat().st_size > 10_000


def test_sorter_benchmark_finds_the_large_units(tmp_path):
    """spykingcircus2 through SpikeInterface's SorterStudy on the lazy ground truth (no save first)."""
    import importlib.util

    import numpy as np

    for module in ("numba", "hdbscan", "pandas"):
        assert importlib.util.find_spec(module), f"{module} is a test dependency (pip install '.[test]')"
    spec = importlib.util.spec_from_file_location("sorter_benchmark", EXAMPLES / "sorter_benchmark.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    summary = example.main(tmp_path / "study", duration=20.0)
    large = summary["amplitudes"] >= 60.0  # filtered peak, µV
    assert large.sum() >= 2
    assert np.all(summary["accuracy"][large] >= 0.8)
    assert summary["mean_accuracy"] > 0.5  # chance level is near 0


def test_circuit_weights_example(v5_sonata, tmp_path):
    completed = subprocess.run([sys.executable, str(EXAMPLES / "circuit_weights.py"), str(v5_sonata), str(tmp_path)],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "707 compartments x 40 electrodes" in completed.stdout  # the rows of neurodamus' own report
    assert (tmp_path / "coefficients_on_morphologies.png").stat().st_size > 20_000
    assert (tmp_path / "electrodes.h5").is_file() and (tmp_path / "geometry.h5").is_file()


def test_single_cell_lfp_example(tmp_path):
    """A BBP cell as a one-cell circuit: weights from its own report, compute_lfp against LFPykit (dendrites).

    In its own process: the NEURON mechanisms it loads must not meet other tests' ones."""
    import re

    completed = subprocess.run([sys.executable, str(EXAMPLES / "single_cell_lfp.py"), str(tmp_path / "cell")],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = re.search(r"LFP peak ([\d.]+) µV; the dendrites' share against LFPykit: correlation ([\d.]+), largest "
                      r"difference ([\d.e+-]+) of its peak", completed.stdout)
    assert found, completed.stdout
    peak, correlation, difference = (float(value) for value in found.groups())
    assert correlation > 0.999 and difference < 0.05
    assert 50 < peak < 5000  # a spike tens of µm from the soma
    assert (tmp_path / "cell" / "single_cell_lfp.png").stat().st_size > 10_000


def test_hybrid_comparison_example(tmp_path):
    """Both hybrids of one parent, measured alike and sorted by tridesclous2: si_recsim's units are Blue Brain
    layer-5 waveforms through the parent's filter, and the sorter recovers its large ones."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("hybrid_comparison", EXAMPLES / "hybrid_comparison.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    summary = example.main(tmp_path / "comparison", duration=30.0)
    ours = summary["features"]["si_recsim"]
    assert len(ours["amplitude_uV"]) == 10 and ours["amplitude_uV"].min() > 20.0
    assert np.all(ours["width_ms"] >= 0.7)  # layer-5 models: trough-to-peak of 0.78 ms or more once filtered
    large = ours["amplitude_uV"] >= 60.0  # about 12 times the parent's noise
    assert large.sum() >= 3 and np.all(summary["si_recsim"][large] >= 0.8)
    assert (tmp_path / "comparison" / "injected_units.png").stat().st_size > 10_000
