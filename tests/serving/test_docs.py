"""docs/serving.md: the session runs as written and prints what the page shows (ports aside)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"
ROOT = DOC.parents[1]
PORT = re.compile(r"127\.0\.0\.1:\d+")


def steps() -> list[tuple[str, str, str]]:
    """(kind, code, expected stdout) in page order: console commands, python blocks + their text."""
    found: list[tuple[str, str, str]] = []
    blocks = re.findall(r"```(console|python|text)\n(.*?)```", DOC.read_text(), re.S)
    for index, (kind, body) in enumerate(blocks):
        if kind == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    found.append(("console", line[2:], ""))
                else:
                    kind_, code, out = found[-1]
                    found[-1] = (kind_, code, out + line + "\n")
        elif kind == "python":
            assert blocks[index + 1][0] == "text", "a python example is followed by its output"
            found.append(("python", body, blocks[index + 1][1]))
    return found


def test_the_session_runs_as_documented(tmp_path: Path) -> None:
    session = steps()
    assert len(session) >= 12
    env = {
        **os.environ,
        "APPLIANCE_HOME": str(tmp_path / "home"),
        "NO_COLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    try:
        for kind, code, expected in session:
            argv = ["bash", "-c", code] if kind == "console" else [sys.executable, "-c", code]
            done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, f"{code}\n{done.stderr}"
            assert PORT.sub("127.0.0.1:PORT", done.stdout) == expected, code
    finally:
        subprocess.run([sys.executable, "-m", "appliance", "-q", "down", "--name", "docs"], env=env,
                       capture_output=True, timeout=120)
