"""docs/tuning.md: its files are written as shown and every console example prints what it shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "tuning.md"


def files() -> dict[str, str]:
    """```yaml blocks whose first line is `# file: NAME`."""
    found = {}
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            found[first.removeprefix("# file: ").strip()] = rest
    return found


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
    written = files()
    assert list(written) == ["quickstart.yaml"]
    for name, text in written.items():
        (tmp_path / name).write_text(text)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "APPLIANCE_HOME": str(tmp_path / "home"),
    }
    env.pop("NO_COLOR", None)
    blocks = sessions()
    assert sum(len(block) for block in blocks) == 5
    for block in blocks:
        for command, expected in block:
            done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{command}: {done.stderr}"
            assert done.stdout == expected, command
