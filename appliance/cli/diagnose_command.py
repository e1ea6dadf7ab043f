"""`appliance diagnose`: write what explains a stack's state (status, events, logs) to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from appliance import paths, stacks
from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.console import Console
from appliance.errors import BadInput
from appliance.runtime.state import validate_name
from appliance.stacks import DEFAULT_STACK
from appliance.targets import TARGETS


@click.command("diagnose")
@click.option("--stack", "--name", "stack_name", default=DEFAULT_STACK, show_default=True,
              callback=lambda c, p, v: validate_name(v), help="The stack to diagnose.")
@click.option("--target", type=click.Choice(TARGETS),
              help="Target of a stack whose state is lost (default: the stack's own).")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path),
              help="Folder to write (default: $APPLIANCE_HOME/diagnostics/<stack>-<time>).")
@pass_console
def diagnose(console: Console, stack_name: str, target: str | None, output: Path | None) -> None:
    """Write a stack's diagnostics (status, events, pod states, logs) to a folder."""
    recorded = stacks.recorded_target(stack_name)
    if recorded is None and target is None and not (paths.stacks_dir() / stack_name).exists():
        raise BadInput(f"no stack named {stack_name!r} is up", "there is nothing to diagnose",
                       "pass --target if its state was lost")
    chosen = context.target(target or recorded)
    out_dir = output or paths.diagnostics_dir(stack_name)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"{out_dir} is not a folder", "", "pass -o with a folder path")
    with console.step(f"diagnostics of stack {stack_name!r} ({chosen.name}) -> {out_dir}"):
        written = chosen.collect_diagnostics(stack_name, out_dir)
    console.report("\n".join(str(path) for path in written) or f"{out_dir} (nothing to collect)")
