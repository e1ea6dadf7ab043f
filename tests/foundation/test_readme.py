"""The README's stub-tool examples run as written (the server line is exercised by tests/stubs)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _stub_block() -> list[str]:
    text = README.read_text()
    block = re.search(r"```bash\n(python -m stubs\.dataset.*?)```", text, re.S)
    assert block, "README lost its stub-tool example block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_stub_examples_run(tmp_path: Path) -> None:
    lines = _stub_block()
    assert [shlex.split(line)[2] for line in lines] == [
        "stubs.dataset", "stubs.model", "stubs.model", "stubs.train", "stubs.server",
    ]
    outputs = []
    for line in lines[:-1]:  # the last line starts a long-running server
        argv = [sys.executable, *shlex.split(line)[1:]]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    evaluated = json.loads(outputs[2])
    assert evaluated["rows"] == 1000 and evaluated["accuracy"] == 0.83
    assert json.loads((tmp_path / "best.json").read_text())["accuracy"] == 0.95
