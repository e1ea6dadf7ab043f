"""Shared fixtures: an isolated APPLIANCE_HOME per test, and a real local stack per xdist worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import profile as profiles
from appliance.console import Console
from appliance.stack import Stack


@pytest.fixture
def appliance_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("APPLIANCE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running local stack (profile standard) shared by one worker's tests; torn down after."""
    from appliance.targets.local.target import LocalTarget

    home = tmp_path_factory.mktemp("stack-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("APPLIANCE_HOME", str(home))
    target = LocalTarget()
    console = Console(quiet=True)
    target.up("test", profiles.load("standard"), None, console)
    try:
        yield target.stack("test")
    finally:
        target.down("test", console)
        patch.undo()
