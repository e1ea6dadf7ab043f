"""`appliance up | status | down | env`: the stack lifecycle."""

from __future__ import annotations

import json
import shlex

import click

from appliance import stacks, targets
from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.config import profile as profiles
from appliance.console import Console
from appliance.errors import BadInput, CheckFailed, MissingPrerequisite
from appliance.runtime.state import validate_name
from appliance.stacks import DEFAULT_STACK
from appliance.targets.interface import StackStatus, UpOptions

DEFAULT_NAME = DEFAULT_STACK

name_option = click.option(
    "--name", "--stack", "name", default=DEFAULT_NAME, show_default=True,
    callback=lambda c, p, v: validate_name(v),
    help="Stack name (several stacks can run side by side).",
)
target_option = click.option(
    "--target", type=click.Choice(targets.TARGETS),
    help="Where the stack runs (default: $APPLIANCE_TARGET, else local).",
)


@click.command("up")
@target_option
@name_option
@click.option("--profile", default=profiles.DEFAULT_PROFILE, show_default=True,
              help="Profile name (see profiles/) or path of a profile file.")
@click.option("--port", type=int, help="Object store port (default: a free one).")
@pass_console
def up(console: Console, target: str | None, name: str, profile: str, port: int | None) -> None:
    """Start a stack in the background (idempotent)."""
    chosen = context.target(target)
    loaded = profiles.load(profile)
    recorded = stacks.recorded_target(name)
    if recorded is not None and recorded != chosen.name:
        raise BadInput(
            f"stack {name!r} is already up on the {recorded} target",
            "a running stack is not moved to another target",
            f"run 'appliance down --name {name}' first, or pick another --name",
        )
    blocking = [check for check in chosen.preflight(loaded) if check.blocking]
    if blocking:
        for check in blocking:
            console.fail(f"{check.name}: {check.detail}" + (f" (fix: {check.fix})" if check.fix else ""))
        raise MissingPrerequisite(
            f"the {chosen.name} target cannot start here",
            f"{len(blocking)} prerequisite check(s) failed (listed above)",
            f"fix them (appliance doctor --target {chosen.name}), or use --target local",
        )
    console.info(f"starting stack {name!r} on target {chosen.name!r} (profile {loaded.name})")
    status = chosen.up(name, loaded, UpOptions(port=port), console)
    _print_status(console, status)


@click.command("status")
@name_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_console
def status(console: Console, name: str, as_json: bool) -> None:
    """Components, endpoints, probed health and uptime of a stack (exit 1 when unhealthy or not up)."""
    record = stacks.read(name)
    current = context.target(record.target).status(name) if record is not None else None
    if current is None:
        if as_json:
            console.report(json.dumps({"name": name, "up": False}))
        others = [s for s in stacks.names() if s != name]
        hint = f" (running: {', '.join(others)})" if others else ""
        # Exit 1, as for an unhealthy stack: scripts use `status` as a health check.
        raise CheckFailed(f"no stack named {name!r} is up{hint}", "", f"run 'appliance up --name {name}'")
    if as_json:
        console.report(json.dumps({"up": True, **current.to_dict()}, indent=2, sort_keys=True))
    else:
        _print_status(console, current, to_stdout=True)
    if not current.healthy:
        broken = ", ".join(c.name for c in current.components if not c.healthy)
        raise CheckFailed(
            f"stack {name!r} is unhealthy", f"{broken} failed the health probe",
            f"'appliance up --name {name}' replaces a stale stack; 'appliance down --name {name}' cleans it",
        )


@click.command("down")
@name_option
@pass_console
def down(console: Console, name: str) -> None:
    """Stop everything `up` started and remove its state."""
    # The recorded target, else local (whose down also cleans a run dir with lost state).
    if context.target(stacks.recorded_target(name)).down(name, console):
        console.ok(f"stack {name!r} is down; no process, port or state left")
    else:
        console.info(f"no stack named {name!r} is up; nothing to do")


@click.command("env")
@name_option
@pass_console
def env(console: Console, name: str) -> None:
    """Print shell exports pointing AWS tools at the stack's object store: eval "$(appliance env)"."""
    store = context.open_stack(name).object_store
    lines = [f"export {key}={shlex.quote(value)}" for key, value in store.env().items()]
    console.report("\n".join(lines))


def _print_status(console: Console, status: StackStatus, to_stdout: bool = False) -> None:
    lines = [
        f"stack {status.name}: target {status.target}, profile {status.profile}, "
        f"up {status.uptime_seconds:.0f}s, {'healthy' if status.healthy else 'UNHEALTHY'}"
    ]
    width = max((len(c.name) for c in status.components), default=0)
    for c in status.components:
        mark = "✓" if c.healthy else "✗"
        where = f" (pid {c.pid})" if c.pid is not None else ""
        lines.append(f"  {mark} {c.name:<{width}}  {c.endpoint:<28} {c.detail}{where}")
    text = "\n".join(lines)
    if to_stdout:
        console.report(text)
    else:
        console.info(text)


