"""The plugin as an installed distribution ships it: pytest loads it through the `pytest11` entry point
(no `-p`), it starts nothing unless a test uses a fixture, and naming it again is a no-op."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from checkout import REPO_ROOT

from appliance.conformance.invocation import PLUGIN

pytestmark = pytest.mark.integration

NO_FIXTURE = """
    def test_arithmetic():
        assert 6 * 7 == 42
"""


def pytest_in(folder: Path, *args: str, home: Path, source: str = NO_FIXTURE,
              conftest: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m pytest` in a user's folder: no -p, no project config from this checkout."""
    (folder / "test_user.py").write_text(textwrap.dedent(source))
    if conftest is not None:
        (folder / "conftest.py").write_text(conftest)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "APPLIANCE_"))}
    env.update(APPLIANCE_HOME=str(home), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_pyproject_declares_the_entry_point_under_the_module_name() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    # Named like the module, so `-p conformance.plugin` finds it already registered (pytest and
    # pluggy refuse one module under two names).
    assert declared == {"pytest11": {PLUGIN: PLUGIN}}


def test_the_installed_distribution_registers_it() -> None:
    found = [(ep.name, ep.value, ep.dist.name if ep.dist else None)
             for ep in importlib.metadata.entry_points(group="pytest11") if ep.value == PLUGIN]
    assert found == [(PLUGIN, PLUGIN, "appliance")]


def test_help_lists_the_options_without_p(tmp_path: Path) -> None:
    done = pytest_in(tmp_path, "--help", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "appliance conformance suite:" in done.stdout
    for flag in ("--stack=NAME", "--stack-profile=PROFILE", "--target"):
        assert flag in done.stdout


def test_p_no_turns_it_off(tmp_path: Path) -> None:
    done = pytest_in(tmp_path, "-p", f"no:{PLUGIN}", "--help", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "--stack=NAME" not in done.stdout


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_session_that_uses_no_fixture_starts_no_stack(tmp_path: Path, workers: list[str]) -> None:
    home = tmp_path / "home"
    done = pytest_in(tmp_path, *workers, home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed in ")
    assert "stack" not in done.stderr
    # Starting or even looking for a stack creates the state dir: nothing touched it.
    assert not home.exists()


@pytest.mark.parametrize("how", ["command line", "conftest", "ini addopts"])
def test_naming_it_again_is_a_no_op(tmp_path: Path, how: str) -> None:
    args: list[str] = []
    conftest = None
    if how == "command line":
        args = ["-p", PLUGIN]
    elif how == "conftest":
        conftest = f"pytest_plugins = [{PLUGIN!r}]\n"
    else:
        (tmp_path / "pytest.ini").write_text(f"[pytest]\naddopts = -p {PLUGIN}\n")
    source = """
        def test_the_plugin_is_registered_once(request):
            manager = request.config.pluginmanager
            plugin = manager.get_plugin("conformance.plugin")
            assert plugin is not None
            assert [p for p in manager.get_plugins() if p is plugin] == [plugin]
    """
    done = pytest_in(tmp_path, *args, "-p", "no:xdist", home=tmp_path / "home", source=source,
                     conftest=conftest)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed in ")
    assert not (tmp_path / "home").exists()


def test_fixtures_and_stack_work_without_p(tmp_path: Path, local_stack) -> None:
    source = """
        def test_uses_the_stack(stack, object_store):
            object_store.put("hello.txt", b"hi")
            assert object_store.get("hello.txt") == b"hi"
            assert (stack.name, stack.profile.name) == ("test", "standard")
    """
    home = Path(os.environ["APPLIANCE_HOME"])  # where the session's local_stack runs
    done = pytest_in(tmp_path, "--stack", local_stack.name, "-p", "no:xdist", home=home, source=source)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed in ")
    assert done.stderr.splitlines() == ["testing stack 'test' (local, profile standard)"]
