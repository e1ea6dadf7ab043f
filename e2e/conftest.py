"""End-to-end helpers: run the real `appliance` CLI as a subprocess with an isolated home."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    env = {**os.environ, "APPLIANCE_HOME": str(home), "NO_COLOR": "1"}

    def run(*args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "appliance", *args],
            env=env, capture_output=True, text=True, timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"appliance {' '.join(args)} -> {done.returncode}\n{done.stderr}")
        return done

    run.home = home  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    return run
