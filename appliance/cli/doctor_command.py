"""`appliance doctor`: what this machine has for a target, one ✓/✗ line per check with its fix."""

from __future__ import annotations

import click

from appliance import doctor, targets
from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.console import Console
from appliance.errors import MissingPrerequisite
from appliance.targets.interface import UpOptions


@click.command("doctor")
@click.option("--target", type=click.Choice(targets.TARGETS),
              help="Target to check (default: $APPLIANCE_TARGET, else local).")
@click.option("--context", "kube_context", metavar="NAME", help="kube: the kubeconfig context to check.")
@pass_console
def doctor_cmd(console: Console, target: str | None, kube_context: str | None) -> None:
    """Check prerequisites: one ✓/✗ line per check with a fix hint."""
    chosen = context.target(target)
    checks = doctor.common_checks() + chosen.preflight(None, UpOptions(context=kube_context))
    for check in checks:
        label = f"{check.name}: {check.detail}"
        if check.ok:
            console.ok(label)
        elif check.blocking:
            console.fail(f"{label} (fix: {check.fix})")
        else:
            console.fail(f"warning: {label} (fix: {check.fix})")
    if any(check.blocking for check in checks):
        raise MissingPrerequisite(
            f"target {chosen.name!r} cannot run here", "see the ✗ lines above", "apply their fixes"
        )
    console.ok(f"target {chosen.name!r} can run")


