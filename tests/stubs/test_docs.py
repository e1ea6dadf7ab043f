"""docs/stubs.md: every console example runs as written and prints what the page shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "stubs.md"
ROOT = DOC.parents[1]


def sessions() -> list[list[tuple[str, str]]]:
    """Each ```console block as (command, expected stdout) pairs."""
    result = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S):
        steps: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        result.append([(cmd, "".join(f"{out}\n" for out in outs)) for cmd, outs in steps])
    return result


def test_console_examples_run_as_documented(tmp_path: Path) -> None:
    blocks = sessions()
    assert blocks and sum(len(b) for b in blocks) >= 5
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    for block in blocks:
        for command, expected in block:
            done = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"{command}: {done.stderr}"
            assert done.stdout == expected, command
