"""docs/stubs.md: every console example runs as written and prints what the page shows."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "stubs.md"
ROOT = DOC.parents[1]


def test_console_examples_run_as_documented(
    tmp_path: Path, console_examples: Callable[[Path, Path, dict[str, str]], int]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    assert console_examples(DOC, tmp_path, env) == 8  # every command on the page ran
