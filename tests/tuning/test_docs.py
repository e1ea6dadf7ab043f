"""docs/tuning.md: its files are written as shown and every console example prints what it shows."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
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


def test_console_examples_run_as_documented(
    tmp_path: Path, console_examples: Callable[[Path, Path, dict[str, str]], int]
) -> None:
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
    assert console_examples(DOC, tmp_path, env) == 6
