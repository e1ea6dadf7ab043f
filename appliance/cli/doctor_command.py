"""`appliance doctor`: prerequisites per target."""

from __future__ import annotations

import click

from appliance import doctor, targets
from appliance.cli.context import pass_console
from appliance.console import Console
from appliance.errors import MissingPrerequisite


@click.command("doctor")
@click.option("--target", type=click.Choice(targets.TARGETS), help="Target to check (default: auto).")
@pass_console
def doctor_cmd(console: Console, target: str | None) -> None:
    """Check prerequisites: one ✓/✗ line per check with a fix hint."""
    chosen = target or targets.default_target()
    checks = doctor.run_checks()
    for check in checks:
        needed = chosen in check.needed_by
        label = f"{check.name}: {check.detail}"
        if check.ok:
            console.ok(label)
        elif needed:
            console.fail(f"{label} (fix: {check.fix})")
        else:
            console.fail(f"{label} (only needed for --target {'/'.join(sorted(check.needed_by))})")
    if chosen == "kind":
        from appliance.targets.kind.target import KIND_TARGET_BUILT

        if not KIND_TARGET_BUILT:
            console.fail("kind target: not built yet (fix: use --target local)")
            raise MissingPrerequisite("target 'kind' cannot run here", "it is not built yet",
                                      "use --target local")
    if not doctor.can_run(checks, chosen):
        raise MissingPrerequisite(
            f"target {chosen!r} cannot run here", "see the ✗ lines above", "apply their fixes"
        )
    console.ok(f"target {chosen!r} can run")


commands = [doctor_cmd]
