"""--report and --junitxml paths: refused before the run starts (checks: tests/foundation/test_output.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.conformance import runner
from appliance.conformance.invocation import RunOptions
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
