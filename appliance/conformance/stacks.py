"""Which stack a conformance run uses: a running one by name, or an ephemeral one it starts and stops."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from appliance import targets
from appliance.config import profile as profiles
from appliance.console import Console
from appliance.errors import ApplianceError
from appliance.targets.interface import Target

EPHEMERAL_PREFIX = "conformance-"


@dataclass(frozen=True)
class StackInfo:
    """The stack under test: what reports name, and whether this run owns (and stops) it."""

    name: str
    target: str
    profile: str
    ephemeral: bool


def attach(target_name: str | None, name: str, console: Console) -> StackInfo:
    """A running stack by name; a clear error (exit 2) when no such stack is up."""
    target = targets.get(target_name)
    stack = target.stack(name)
    status = target.status(name)
    if status is not None and not status.healthy:
        sick = ", ".join(c.name for c in status.components if not c.healthy)
        # Not refused: proving that a broken stack fails is what the suite is for.
        console.info(f"warning: stack {name!r} is unhealthy ({sick}); its tests will say how")
    return StackInfo(name, target.name, stack.profile.name, ephemeral=False)


def ephemeral_name() -> str:
    return f"{EPHEMERAL_PREFIX}{secrets.token_hex(3)}"


def start_ephemeral(target_name: str | None, profile: str, console: Console) -> StackInfo:
    """Start a stack under a fresh name; the caller must `stop` it (also on failure)."""
    target = targets.get(target_name)
    loaded = profiles.load(profile)
    name = ephemeral_name()
    console.info(f"starting ephemeral stack {name!r} ({target.name}, profile {loaded.name})")
    try:
        target.up(name, loaded, None, console)
    except BaseException:
        # Clean up what a half-finished `up` left; the error worth showing is the first one.
        with contextlib.suppress(ApplianceError):
            target.down(name, console)
        raise
    return StackInfo(name, target.name, loaded.name, ephemeral=True)


def stop(info: StackInfo, console: Console) -> None:
    """Stop a stack this run started; a stack it only attached to is left running."""
    if info.ephemeral:
        _target(info).down(info.name, console)
        console.ok(f"ephemeral stack {info.name!r} is down")


def _target(info: StackInfo) -> Target:
    return targets.get(info.target)


@contextmanager
def use(
    target_name: str | None, name: str | None, profile: str, console: Console
) -> Iterator[StackInfo]:
    """The named running stack, else an ephemeral one that is stopped on the way out."""
    if name:
        yield attach(target_name, name, console)
        return
    info = start_ephemeral(target_name, profile, console)
    try:
        yield info
    finally:
        stop(info, console)
