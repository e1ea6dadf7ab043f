"""Errors render as one line with why and fix; console rules for streams, -q and NO_COLOR."""

from __future__ import annotations

import io

import pytest

from appliance.console import Console
from appliance.errors import (
    BadInput,
    CheckFailed,
    ExternalCommandFailed,
    InvalidDocument,
    MissingPrerequisite,
)


def test_exit_codes() -> None:
    assert CheckFailed("x").exit_code == 1
    assert BadInput("x").exit_code == 2
    assert InvalidDocument("f", ["a"]).exit_code == 2
    assert MissingPrerequisite("x").exit_code == 3
    assert ExternalCommandFailed(["kind"], "").exit_code == 4


def test_render_what_why_fix() -> None:
    assert BadInput("port 5 is in use", "busy", "pick another").render() == (
        "port 5 is in use: busy (fix: pick another)"
    )
    assert BadInput("plain").render() == "plain"


def test_invalid_document_lists_every_problem() -> None:
    error = InvalidDocument("p.yaml", ["spec.a: unknown field", "kind: expected 'Profile'"], "see x")
    assert error.render() == (
        "p.yaml: 2 problem(s)\n  - spec.a: unknown field\n  - kind: expected 'Profile'\n  fix: see x"
    )


def test_external_command_shows_command_and_output_tail() -> None:
    output = "\n".join(f"line {i}" for i in range(30))
    rendered = ExternalCommandFailed(["kind", "create", "cluster"], output, "exit code 1").render()
    assert rendered.splitlines()[0] == "command failed: kind create cluster: exit code 1"
    assert rendered.splitlines()[1] == "line 10"
    assert rendered.splitlines()[-1] == "line 29"


def test_status_on_stderr_report_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    err, out = io.StringIO(), io.StringIO()
    console = Console(err=err, out=out)
    console.ok("done", 1.25)
    console.fail("broke")
    console.report("{}")
    assert err.getvalue() == "✓ done (1.2s)\n✗ broke\n"
    assert out.getvalue() == "{}\n"


def test_quiet_silences_status_but_not_errors_or_reports() -> None:
    err, out = io.StringIO(), io.StringIO()
    console = Console(quiet=True, err=err, out=out)
    console.info("hidden")
    console.ok("hidden")
    console.error("shown")
    console.report("data")
    assert err.getvalue() == "error: shown\n"
    assert out.getvalue() == "data\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_tty_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _Tty()
    Console(err=tty).ok("x")
    assert "\033[32m" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "")
    tty = _Tty()
    Console(err=tty).ok("x")
    assert tty.getvalue() == "✓ x\n"
    plain = io.StringIO()
    monkeypatch.delenv("NO_COLOR")
    Console(err=plain).ok("x")
    assert plain.getvalue() == "✓ x\n"
