"""What every command gets from the click context: the Console, and the targets to run stacks on.

Commands find targets through `target()` and `open_stack()` here, never by importing a target:
`main(argv, target_factory=...)` hands them a different factory (tests pass fakes that implement
the Target interface), and the real one is `appliance.targets.get`.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from appliance.console import Console

if TYPE_CHECKING:
    from appliance.stack import Stack
    from appliance.targets.interface import Target

TargetFactory = Callable[[str | None], "Target"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    console: Console = field(default_factory=Console)
    target_factory: TargetFactory | None = None  # None: appliance.targets.get


def session() -> Session:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Session) if ctx is not None else None
    return found if found is not None else Session()


def pass_console(f: F) -> F:
    """Pass the session's Console as the command's first argument."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(session().console, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def target(name: str | None) -> Target:
    """The target asked for (--target, else $APPLIANCE_TARGET, else local)."""
    # Imported here: `appliance --version` and `--help` need no target machinery.
    from appliance import targets

    return (session().target_factory or targets.get)(name)


def stack_target(name: str) -> Target:
    """The target a running stack was started on (its run dir says); BadInput when none is up."""
    from appliance import stacks

    return target(stacks.require(name).target)


def open_stack(name: str) -> Stack:
    return stack_target(name).stack(name)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, `kill PID`) stops what a command started the way Ctrl-C does:
    engines stop their work on KeyboardInterrupt before it propagates."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
