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


class Duration(click.ParamType):
    """A duration: 90, 90s, 25m or 1h (seconds when no unit is given)."""

    name = "duration"
    UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower()
        unit = self.UNITS.get(text[-1:], None)
        number = text[:-1] if unit is not None else text
        try:
            seconds = float(number) * (unit or 1.0)
        except ValueError:
            self.fail(f"{value!r} is not a duration (e.g. 25m, 900s, 1h)", param, ctx)
        if not 0 < seconds <= 24 * 3600:
            self.fail(f"{value!r} is out of range (more than 0, at most 24h)", param, ctx)
        return seconds


DURATION = Duration()


def _mirror(entry: str) -> tuple[str, str]:
    registry, sep, url = entry.partition("=")
    if not sep or not registry or not url:
        raise BadInput(f"--registry-cache {entry!r} is not REGISTRY=URL",
                       "each cache names the registry it mirrors and its URL",
                       "e.g. --registry-cache docker.io=http://127.0.0.1:5000")
    return registry, url


@click.command("up")
@target_option
@name_option
@click.option("--profile", default=profiles.DEFAULT_PROFILE, show_default=True,
              help="Profile name (see profiles/) or path of a profile file.")
@click.option("--port", type=int, help="Object store port (default: a free one).")
@click.option("--retain", is_flag=True,
              help="kind/kube: keep what was created when up fails (for debugging; down removes it).")
@click.option("--timeout", "timeout", type=DURATION, metavar="DURATION",
              help="kind/kube: cap on the whole bring-up, e.g. 25m or 900s (default 20m).")
@click.option("--kind-node-image", metavar="REF", help="kind: node image (default: the pinned one).")
@click.option("--registry-cache", "registry_cache", multiple=True, metavar="REGISTRY=URL",
              help="kind: pull REGISTRY's images through the cache at URL (repeatable).")
@click.option("--context", "kube_context", metavar="NAME", help="kube: the kubeconfig context to use.")
@click.option("--stubs-image", metavar="REF",
              help="kind/kube: the stubs image (kube: required, pullable by the cluster).")
@pass_console
def up(console: Console, target: str | None, name: str, profile: str, port: int | None, retain: bool,
       timeout: float | None, kind_node_image: str | None, registry_cache: tuple[str, ...],
       kube_context: str | None, stubs_image: str | None) -> None:
    """Start a stack in the background (idempotent)."""
    options = UpOptions(port=port, retain=retain, timeout=timeout, context=kube_context,
                        node_image=kind_node_image, stubs_image=stubs_image,
                        registry_cache=tuple(_mirror(entry) for entry in registry_cache))
    chosen = context.target(target)
    loaded = profiles.load(profile)
    recorded = stacks.recorded_target(name)
    if recorded is not None and recorded != chosen.name:
        raise BadInput(
            f"stack {name!r} is already up on the {recorded} target",
            "a running stack is not moved to another target",
            f"run 'appliance down --name {name}' first, or pick another --name",
        )
    checks = chosen.preflight(loaded, options)
    for check in checks:
        fix = f" (fix: {check.fix})" if check.fix else ""
        if check.blocking:
            console.fail(f"{check.name}: {check.detail}{fix}")
        elif not check.ok:
            console.info(f"! {check.name}: {check.detail}{fix}")
    blocking = [check for check in checks if check.blocking]
    if blocking:
        raise MissingPrerequisite(
            f"the {chosen.name} target cannot start here",
            f"{len(blocking)} prerequisite check(s) failed (listed above)",
            f"fix them (appliance doctor --target {chosen.name}), or use --target local",
        )
    console.info(f"starting stack {name!r} on target {chosen.name!r} (profile {loaded.name})")
    status = chosen.up(name, loaded, options, console)
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
@click.option("--delete-crds", is_flag=True,
              help="kube: also delete the CRDs the stack installed (and every resource of their kinds).")
@pass_console
def down(console: Console, name: str, delete_crds: bool) -> None:
    """Stop everything `up` started and remove its state."""
    # The recorded target, else local (whose down also cleans a run dir with lost state).
    if context.target(stacks.recorded_target(name)).down(name, console, delete_crds):
        console.ok(f"stack {name!r} is down; no process, port or state left")
    else:
        console.info(f"no stack named {name!r} is up; nothing to do")


@click.command("env")
@name_option
@pass_console
def env(console: Console, name: str) -> None:
    """Print shell exports pointing AWS tools at the stack's object store: eval "$(appliance env)"."""
    exports = context.open_stack(name).env()
    lines = [f"export {key}={shlex.quote(value)}" for key, value in exports.items()]
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


