"""Bring-up as an ordered list of small actions, undone in reverse when one fails (kind's create).

Each action prints one ✓/✗ line with its duration. When an action fails (or Ctrl-C lands), the
failure is recorded for diagnostics first, then every started action is undone, newest first,
unless `retain` asks to keep what was created for debugging. Undo errors are reported and do not
hide the failure that caused them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from appliance.console import Console

C = TypeVar("C")


@dataclass(frozen=True)
class Action(Generic[C]):
    name: str
    run: Callable[[C], None]
    undo: Callable[[C], None] | None = None


def execute(
    actions: Sequence[Action[C]],
    context: C,
    console: Console,
    *,
    retain: bool = False,
    on_failure: Callable[[BaseException], None] | None = None,
) -> list[str]:
    """Run `actions` in order; return the names of those that ran. On failure: diagnostics, undo
    (unless `retain`), then the original exception propagates."""
    started: list[Action[C]] = []
    try:
        for action in actions:
            started.append(action)  # a half-done action is undone too (a half-created cluster)
            with console.step(action.name):
                action.run(context)
    except BaseException as failure:
        if on_failure is not None:
            try:
                on_failure(failure)
            except Exception as exc:  # diagnostics are best effort: never mask the failure
                console.info(f"warning: collecting diagnostics failed: {exc}")
        if retain:
            console.info("--retain: what was created is kept for debugging; "
                         "'appliance down' removes it")
        else:
            undo(started, context, console)
        raise
    return [action.name for action in started]


def undo(started: Sequence[Action[C]], context: C, console: Console) -> None:
    for action in reversed(started):
        if action.undo is None:
            continue
        try:
            with console.step(f"undo: {action.name}"):
                action.undo(context)
        except Exception as exc:  # keep undoing the rest; the user sees what is left
            console.info(f"warning: undo of {action.name!r} failed: {exc}")
