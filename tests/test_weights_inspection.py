"""inspect-weights: structure checks that catch each broken part, summaries, comparisons per neurite type."""

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from test_weights import _worked_example

from si_recsim.sonata.electrodes_file import write_electrodes_file
from si_recsim.sonata.weights_inspection import (
    compare_by_neurite_type,
    summarise_electrodes_file,
    validate_electrodes_file,
)


@pytest.fixture
def weights(tmp_path):
    populations, electrodes = _worked_example()
    return write_electrodes_file(populations, electrodes, tmp_path / "weights.h5", with_neurite_types=True)


def _broken(weights, tmp_path, change):
    path = tmp_path / "broken.h5"
    shutil.copy(weights, path)
    with h5py.File(path, "a") as file:
        change(file)
    return path


def _replace(file, key, values):
    del file[key]
    file[key] = values


@pytest.mark.parametrize("change, message", [
    (lambda f: _replace(f, "pop/offsets", np.array([0, 4, 3], dtype=np.uint64)), "offsets must start at 0"),
    (lambda f: _replace(f, "pop/offsets", np.array([0, 6], dtype=np.uint64)), "2 offsets for 2 nodes"),
    (lambda f: _replace(f, "pop/node_ids", np.array([1, 0], dtype=np.uint64)), "not unique and sorted"),
    (lambda f: f["electrodes/pop/scaling_factors"].__setitem__((4, 1), np.nan), "not finite (first in row 4)"),
    (lambda f: _replace(f, "electrodes/e1/pop", np.array([5], dtype=np.uint32)), "are not 0 .. 1"),
    (lambda f: _replace(f, "pop/neurite_types", np.zeros(3, dtype=np.int32)), "3 neurite types for 6 rows"),
])
def test_each_broken_part_is_named(weights, tmp_path, change, message):
    assert validate_electrodes_file(weights) == []
    problems = validate_electrodes_file(_broken(weights, tmp_path, change))
    assert len(problems) == 1 and message in problems[0], problems


def test_summary_counts_rows_per_neurite_type(weights):
    summary = summarise_electrodes_file(weights)["pop"]
    assert (summary["nodes"], summary["rows"], summary["electrodes"], summary["names"]) == (2, 6, 2, ["e0", "e1"])
    assert {name: group["rows"] for name, group in summary["groups"].items()} == {"soma": 2, "basal": 4}
    with h5py.File(weights) as file:
        factors = np.abs(file["electrodes/pop/scaling_factors"][()])
    np.testing.assert_allclose(summary["max_abs"], factors.max(axis=0))
    assert sum(group["histogram"].sum() for group in summary["groups"].values()) == factors.size


def test_comparison_per_neurite_type_sees_the_conductivity_ratio(tmp_path):
    populations, electrodes = _worked_example()
    first = write_electrodes_file(populations, electrodes, tmp_path / "a.h5", sigma=0.277, with_neurite_types=True)
    second = write_electrodes_file(populations, electrodes, tmp_path / "b.h5", sigma=0.3, with_neurite_types=True)
    groups = compare_by_neurite_type(first, second)["pop"]
    assert set(groups) == {"soma", "basal"}
    for values in groups.values():  # analytic coefficients scale as 1 / sigma
        assert values["max_relative_difference"] == pytest.approx(0.3 / 0.277 - 1, rel=1e-9)
        assert values["correlation"] == pytest.approx(1.0, abs=1e-12)


def test_rows_are_checked_against_a_report(v5_sonata, tmp_path):
    report = v5_sonata / "reference" / "reports" / "compartment_i_membrane.h5"
    table = tmp_path / "electrodes.csv"
    table.write_text("name,x,y,z\ne0,300,1900,700\n")
    cli = [sys.executable, "-m", "si_recsim.cli"]
    config = str(v5_sonata / "simulation_config_mini.json")
    for name, extra in (("report.h5", ["--report", str(report)]), ("fine.h5", ["--segment-length", "20"])):
        run = subprocess.run(cli + ["write-weights", config, str(table), str(tmp_path / name), "--no-progress", *extra],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    assert validate_electrodes_file(tmp_path / "report.h5", report=report) == []
    problems = validate_electrodes_file(tmp_path / "fine.h5", report=report)
    assert len(problems) == 1 and "rows unlike the report's elements" in problems[0]
    inspect = subprocess.run(cli + ["inspect-weights", str(tmp_path / "fine.h5"), "--report", str(report), "--plot",
                                    str(tmp_path / "weights.png")], capture_output=True, text=True)
    assert inspect.returncode == 1 and "1 problem(s)" in inspect.stdout and (tmp_path / "weights.png").is_file()
    same = subprocess.run(cli + ["inspect-weights", str(tmp_path / "report.h5"), str(tmp_path / "report.h5")],
                          capture_output=True, text=True)
    assert same.returncode == 0 and "largest difference 0 " in same.stdout, same.stdout
