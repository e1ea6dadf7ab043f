"""Shared fixtures: an isolated APPLIANCE_HOME, a real local stack per xdist worker, a docs runner."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session", autouse=True)
def shared_required() -> None:
    """With APPLIANCE_REQUIRE_SHARED=1 (set by .ci/run when ../shared is present), a missing or
    misplaced upstream/oracle folder fails the run instead of skipping the tests that need it."""
    if os.environ.get("APPLIANCE_REQUIRE_SHARED") != "1":
        return
    upstream = Path(os.environ.get("APPLIANCE_UPSTREAM", ""))
    missing = [p for p in (upstream / "SOURCES.md", upstream.parent / "oracles" / "pss") if not p.exists()]
    if missing:
        pytest.fail(f"APPLIANCE_REQUIRE_SHARED=1 but {', '.join(map(str, missing))} not found", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test runs under a temporary APPLIANCE_HOME from the session's start (never the user's
    state dir, and never dependent on which fixture ran first)."""
    home = tmp_path_factory.mktemp("appliance-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("APPLIANCE_HOME", str(home))
    try:
        yield home
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def local_stack(session_home: Path) -> Iterator[Stack]:
    """A running local stack (profile standard) shared by one worker's tests; torn down after."""
    from appliance.targets.interface import UpOptions
    from appliance.targets.local.target import LocalTarget

    target = LocalTarget()
    console = Console(quiet=True)
    target.up("test", profiles.load("standard"), UpOptions(), console)
    try:
        yield target.stack("test")
    finally:
        target.down("test", console)


def console_sessions(doc: Path) -> list[list[tuple[str, str]]]:
    """Each ```console block of a docs page as (command, expected stdout) pairs."""
    result = []
    for block in re.findall(r"```console\n(.*?)```", doc.read_text(), re.S):
        steps: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        result.append([(cmd, "".join(f"{out}\n" for out in outs)) for cmd, outs in steps])
    return result


def run_console_examples(doc: Path, cwd: Path, env: dict[str, str]) -> int:
    """Run every ```console command of doc in bash: each must exit 0 and print exactly what the
    page shows. Returns how many commands ran (callers pin it, so a lost block fails)."""
    ran = 0
    for block in console_sessions(doc):
        for command, expected in block:
            done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{command}: {done.stderr}"
            assert done.stdout == expected, command
            ran += 1
    return ran


@pytest.fixture
def console_examples() -> Callable[[Path, Path, dict[str, str]], int]:
    """`run_console_examples`, as a fixture (test modules cannot import conftest)."""
    return run_console_examples


# --- test tiers ----------------------------------------------------------------------------------
# The fast tier (`pytest -m "not integration"`, `make unit`) starts no process: fakes stand at the
# seams. A test that starts processes or stacks is in the integration tier: by its fixtures, by its
# module (INTEGRATION_MODULES), or by an explicit @pytest.mark.integration. The guard below makes a
# fast-tier test that starts a process fail, naming the fix, so the tiers cannot drift apart.
INTEGRATION_FIXTURES = frozenset({"local_stack", "console_examples"})
INTEGRATION_MODULES = frozenset({
    "tests/conformance/test_outputs.py",
    "tests/conformance/test_plugin.py",
    "tests/foundation/test_readme.py",
    "tests/pipelines/test_engine.py",
    "tests/serving/test_clients.py",
    "tests/serving/test_docs.py",
    "tests/serving/test_down.py",
    "tests/serving/test_front.py",
    "tests/stubs/test_cli.py",
    "tests/stubs/test_determinism.py",
    "tests/stubs/test_server.py",
    "tests/stubs/test_train.py",
    "tests/tuning/test_cli.py",
    "tests/tuning/test_engine.py",
    "tests/tuning/test_reference_experiments.py",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent.parent
    for item in items:
        module = Path(str(item.path)).resolve().relative_to(root).as_posix()
        fixtures = set(getattr(item, "fixturenames", ()))
        if (module.startswith("e2e/") or module in INTEGRATION_MODULES
                or fixtures & INTEGRATION_FIXTURES):
            item.add_marker(pytest.mark.integration)


class _NoProcess(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, args: object, *rest: object, **kwargs: object) -> None:
        raise AssertionError(
            f"a fast-tier test started a process ({args!r}): use a fake at the seam, or mark the "
            "test integration (tests/conftest.py INTEGRATION_MODULES or @pytest.mark.integration)")


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setattr(subprocess, "Popen", _NoProcess)
