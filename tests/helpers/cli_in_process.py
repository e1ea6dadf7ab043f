"""Test helpers: run the `appliance` entry point in this process and write small input files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str],
        target_factory: Callable[[str | None], Any] | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `appliance ARGS`, through the real entry point; with
    `target_factory`, every target name resolves through it (e.g. to a FakeTarget)."""
    with pytest.raises(SystemExit) as done:
        main(args, target_factory=target_factory) if target_factory else main(args)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)
