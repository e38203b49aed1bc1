"""The README's command-line block runs as written, one command after another, in an empty folder."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _command_line_block() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("## Command line"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(shlex.split(line))
    return commands


@pytest.mark.slow
def test_the_readme_command_block_runs(tmp_path):
    commands = _command_line_block()
    assert len(commands) >= 6 and all(command[0] == "si-recsim" for command in commands)
    for command in commands:
        completed = subprocess.run([sys.executable, "-m", "si_recsim.cli", *command[1:], *(
            ["--no-progress"] if command[1] in ("gen-recordings", "gen-templates", "convert") else [])],
            cwd=tmp_path, capture_output=True, text=True, check=False)
        assert completed.returncode == 0, f"{shlex.join(command)}:\n{completed.stderr[-2000:]}"
    assert {"my_params.yaml", "np128_templates.h5", "np128_gt", "my_gt", "my_gt.nwb", "my_gt_mearec.h5",
            "np128_templates.png", "my_gt.png"} <= {path.name for path in tmp_path.iterdir()}
