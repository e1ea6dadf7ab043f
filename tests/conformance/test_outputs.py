"""--report and --junitxml paths: refused before the run starts, written whole or reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.conformance import outputs, runner
from appliance.conformance.invocation import RunOptions
from appliance.console import Console
from appliance.errors import BadInput


@pytest.mark.parametrize(("path", "message"), [
    ("/proc/nope/x.json", "--report /proc/nope/x.json: cannot create a file in /proc: No such file or "
                          "directory (fix: write to a directory you can write to)"),
    ("/proc/x.json", "--report /proc/x.json: cannot create a file in /proc: No such file or directory "
                     "(fix: write to a directory you can write to)"),
    ("{tmp}/file/x.json", "--report {tmp}/file/x.json: {tmp}/file is not a directory (fix: write elsewhere)"),
    ("{tmp}/file/a/b/x.json", "--report {tmp}/file/a/b/x.json: {tmp}/file is not a directory "
                              "(fix: write elsewhere)"),
    ("{tmp}", "--report {tmp}: is a directory (fix: give a file name)"),
])
def test_unwritable_paths_are_bad_input(tmp_path: Path, path: str, message: str) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as bad:
        outputs.check(Path(path.format(tmp=tmp_path)), "--report")
    assert bad.value.render() == message.format(tmp=tmp_path)


def test_writable_paths_pass_and_leave_nothing_behind(tmp_path: Path) -> None:
    outputs.check(tmp_path / "r.json", "--report")
    outputs.check(tmp_path / "new" / "dir" / "j.xml", "--junitxml")  # created when written
    assert list(tmp_path.iterdir()) == []
    outputs.write(tmp_path / "new" / "dir" / "j.xml", "<testsuites/>", "--junitxml")
    assert (tmp_path / "new" / "dir" / "j.xml").read_text() == "<testsuites/>"


def test_a_failed_write_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as bad:
        outputs.write(tmp_path / "file" / "r.md", "# report", "--report")
    assert bad.value.render().startswith(f"--report {tmp_path}/file/r.md: could not be written: ")


@pytest.mark.parametrize("option", ["report", "junitxml"])
def test_the_run_refuses_them_before_any_stack_is_used(
    monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    def no_stack(*args: Any) -> None:
        raise AssertionError("a stack was used")

    monkeypatch.setattr("appliance.conformance.stacks.use", no_stack)
    options = RunOptions(**{option: Path("/proc/nope/x.json")})  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=f"--{option} /proc/nope/x.json: cannot create a file in /proc"):
        runner.run(options, Console(quiet=True))
