import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_example_runs(tmp_path):
    completed = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path)], capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "reloaded traces identical: True" in completed.stdout
    assert (tmp_path / "spikes_on_traces.png").stat().st_size > 10_000
    assert (tmp_path / "probe_and_units.png").stat().st_size > 10_000
