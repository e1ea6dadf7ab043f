"""--report and --junitxml paths: refused before the run starts (checks: tests/foundation/test_output.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main
from appliance.conformance import runner
from appliance.conformance.invocation import RunOptions
from appliance.conformance.stacks import StackInfo
from appliance.console import Console
from appliance.errors import BadInput


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("option", ["report", "junitxml"])
def test_the_run_refuses_them_before_any_stack_is_used(
    monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    def no_stack(*args: Any) -> None:
        raise AssertionError("a stack was used")

    monkeypatch.setattr("appliance.conformance.stacks.use", no_stack)
    options = RunOptions(**{option: Path("/proc/nope/x.json")})  # type: ignore[arg-type]
    with pytest.raises(BadInput) as bad:
        runner.run(options, Console(quiet=True))
    assert bad.value.render() == (
        f"--{option} /proc/nope/x.json: cannot write: creating a directory in /proc failed: No such file "
        f"or directory (fix: choose another --{option} path in a directory you can write)")


def test_pytest_usage_error_is_bad_input_with_pytests_message(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def fake_stack(*args: Any) -> Iterator[StackInfo]:
        # pytest refuses the arguments before the suite touches a stack.
        yield StackInfo("demo", "local", "standard", False)

    monkeypatch.setattr("appliance.conformance.stacks.use", fake_stack)
    options = RunOptions(areas=("object-store",), pytest_args=("--bogus-flag",))
    with pytest.raises(BadInput) as bad:
        runner.run(options, Console(quiet=True))
    assert bad.value.exit_code == 2
    assert bad.value.render() == (
        "pytest refused the arguments: python -m pytest: error: unrecognized arguments: --bogus-flag "
        "(fix: fix the pytest arguments after `--` (see `pytest --help`))")


def test_cli_bounds_workers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["conformance", "-n", "99999999999999999999"])
    assert info.value.code == 2
    assert "Invalid value for '-n' / '--workers': 99999999999999999999 is not in the range " \
           "0<=x<=64." in capsys.readouterr().err
