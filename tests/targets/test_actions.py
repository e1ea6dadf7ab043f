"""Ordered actions: run in order, undone newest-first on failure unless retained, diagnostics first."""

from __future__ import annotations

import io

import pytest

from appliance.console import Console
from appliance.targets.actions import Action, execute


def _actions(log: list[str], fail_at: str | None = None,
             failing_undo: str | None = None) -> list[Action[list[str]]]:
    def run(name: str):  # type: ignore[no-untyped-def]
        def body(ctx: list[str]) -> None:
            ctx.append(f"run {name}")
            if name == fail_at:
                raise RuntimeError(f"{name} broke")
        return body

    def undo(name: str):  # type: ignore[no-untyped-def]
        def body(ctx: list[str]) -> None:
            ctx.append(f"undo {name}")
            if name == failing_undo:
                raise OSError("cannot undo")
        return body

    return [Action("a", run("a"), undo("a")), Action("b", run("b")), Action("c", run("c"), undo("c")),
            Action("d", run("d"), undo("d"))]


def test_all_actions_run_in_order() -> None:
    log: list[str] = []
    assert execute(_actions(log), log, Console(quiet=True)) == ["a", "b", "c", "d"]
    assert log == ["run a", "run b", "run c", "run d"]


def test_a_failure_undoes_what_started_newest_first_after_diagnostics() -> None:
    log: list[str] = []
    seen: list[str] = []
    err = io.StringIO()
    with pytest.raises(RuntimeError, match="c broke"):
        execute(_actions(log, fail_at="c"), log, Console(err=err),
                on_failure=lambda exc: seen.append(f"{log[-1]} / {exc}"))
    assert seen == ["run c / c broke"]  # diagnostics see the state before anything is undone
    assert log == ["run a", "run b", "run c", "undo c", "undo a"]  # d never ran; b has no undo
    lines = [line.rsplit(" (", 1)[0] for line in err.getvalue().splitlines()]
    assert lines == ["✓ a", "✓ b", "✗ c", "✓ undo: c", "✓ undo: a"]


def test_retain_keeps_everything() -> None:
    log: list[str] = []
    err = io.StringIO()
    with pytest.raises(RuntimeError):
        execute(_actions(log, fail_at="b"), log, Console(err=err), retain=True)
    assert log == ["run a", "run b"]
    assert "--retain: what was created is kept for debugging; 'appliance down' removes it" in err.getvalue()


def test_an_interrupt_is_undone_too_and_a_failing_undo_does_not_hide_the_cause() -> None:
    log: list[str] = []
    actions = _actions(log, failing_undo="c")
    actions[3] = Action("d", lambda ctx: (_ for _ in ()).throw(KeyboardInterrupt()), None)
    err = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        execute(actions, log, Console(err=err))
    assert log == ["run a", "run b", "run c", "undo c", "undo a"]
    assert "warning: undo of 'c' failed: cannot undo" in err.getvalue()


def test_failing_diagnostics_are_a_warning() -> None:
    log: list[str] = []
    err = io.StringIO()

    def broken(exc: BaseException) -> None:
        raise OSError("disk full")

    with pytest.raises(RuntimeError, match="a broke"):
        execute(_actions(log, fail_at="a"), log, Console(err=err), on_failure=broken)
    assert "warning: collecting diagnostics failed: disk full" in err.getvalue()
    assert log == ["run a", "undo a"]
