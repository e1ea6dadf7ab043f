"""Which stack a conformance run uses: the one named, else the running `default` stack when it is
healthy, else an ephemeral one that the run starts and stops."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from appliance import stacks, targets
from appliance.config import profile as profiles
from appliance.config.profile import Profile
from appliance.console import Console
from appliance.errors import ApplianceError, BadInput, MissingPrerequisite
from appliance.stacks import DEFAULT_STACK
from appliance.targets.interface import Target, UpOptions

EPHEMERAL_PREFIX = "conformance-"


@dataclass(frozen=True)
class StackInfo:
    """The stack under test: what reports name, and whether this run owns (and stops) it."""

    name: str
    target: str
    profile: str
    ephemeral: bool


def attach(target_name: str | None, name: str, console: Console) -> StackInfo:
    """A running stack by name, on the target it runs on; a clear error (exit 2) when no such stack
    is up or it runs on another target than --target says."""
    target = _recorded(target_name, stacks.require(name))
    stack = target.stack(name)
    status = target.status(name)
    if status is not None and not status.healthy:
        sick = ", ".join(c.name for c in status.components if not c.healthy)
        # Not refused: proving that a broken stack fails is what the suite is for.
        console.info(f"warning: stack {name!r} is unhealthy ({sick}); its tests will say how")
    return StackInfo(name, target.name, stack.profile.name, ephemeral=False)


def running_default(target_name: str | None) -> tuple[StackInfo | None, str]:
    """The `default` stack when it is up and healthy, else None; and why, for the user."""
    try:
        record = stacks.read(DEFAULT_STACK)
        if record is None:
            return None, f"no stack {DEFAULT_STACK!r} is running"
        if target_name and record.target != target_name:
            return None, f"stack {DEFAULT_STACK!r} runs on the {record.target} target, not {target_name}"
        target = targets.get(record.target)
        status = target.status(DEFAULT_STACK)
        if status is None:
            return None, f"no stack {DEFAULT_STACK!r} is running"
        if not status.healthy:
            sick = ", ".join(c.name for c in status.components if not c.healthy)
            return None, (f"stack {DEFAULT_STACK!r} is running but unhealthy ({sick}; test it "
                          f"with --stack {DEFAULT_STACK})")
        stack = target.stack(DEFAULT_STACK)
    except MissingPrerequisite:
        raise  # the target itself is unusable (e.g. no Docker for kind): starting one would fail too
    except ApplianceError as exc:
        # A corrupt or half-written run dir is not a running stack.
        return None, f"stack {DEFAULT_STACK!r} is not usable ({exc.render()})"
    return StackInfo(DEFAULT_STACK, target.name, stack.profile.name, ephemeral=False), ""


def choose(
    target_name: str | None,
    name: str | None,
    profile: str,
    console: Console,
    told: Console | None = None,
) -> StackInfo:
    """Issue 7's rule: --stack NAME; else the running `default` stack; else a new ephemeral one.

    Which one, and why, is said on `told` (default: `console`, which starting a stack uses). The
    caller must `stop` the result (that only stops an ephemeral stack).
    """
    told = told or console
    if name:
        info = attach(target_name, name, told)
        told.info(f"testing stack {name!r} ({info.target}, profile {info.profile})")
        return info
    loaded = profiles.load(profile)  # a bad --profile is bad input whichever stack is tested
    running, why = running_default(target_name)
    if running is not None:
        told.info(f"testing the running stack {running.name!r} ({running.target}, profile "
                  f"{running.profile}); it is left running (--stack NAME tests another)")
        return running
    target = targets.get(target_name)
    fresh = ephemeral_name()
    told.info(f"{why}: starting ephemeral stack {fresh!r} ({target.name}, profile {loaded.name}); "
              "it is stopped at the end")
    return start_ephemeral(target_name, loaded, console, fresh)


def ephemeral_name() -> str:
    return f"{EPHEMERAL_PREFIX}{secrets.token_hex(3)}"


def start_ephemeral(
    target_name: str | None, profile: str | Profile, console: Console, name: str | None = None
) -> StackInfo:
    """Start a stack under a fresh name; the caller must `stop` it (also on failure)."""
    target = targets.get(target_name)
    loaded = profile if isinstance(profile, Profile) else profiles.load(profile)
    name = name or ephemeral_name()
    try:
        target.up(name, loaded, UpOptions(), console)
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


def _recorded(target_name: str | None, record: stacks.StackRecord) -> Target:
    if target_name and record.target != target_name:
        raise BadInput(f"stack {record.name!r} runs on the {record.target} target, not {target_name}",
                       "", f"omit --target, or pass --target {record.target}")
    return targets.get(record.target)


@contextmanager
def use(
    target_name: str | None, name: str | None, profile: str, console: Console
) -> Iterator[StackInfo]:
    """The stack `choose` picks; stopped on the way out when this run started it."""
    info = choose(target_name, name, profile, console)
    try:
        yield info
    finally:
        stop(info, console)
