"""The code base passes its own lint configuration (``[tool.ruff]`` in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    executable = str(ruff) if ruff.is_file() else shutil.which("ruff")
    assert executable is not None, "ruff is missing: pip install '.[test]'"
    folders = [str(REPOSITORY / name) for name in ("si_recsim", "tests", "benchmarks", "examples")]
    completed = subprocess.run([executable, "check", "--no-cache", *folders], cwd=REPOSITORY,
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:]
