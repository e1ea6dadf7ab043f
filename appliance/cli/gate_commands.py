"""`appliance gate evaluate | registry show/rollback`: promotion gates and the model registry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.cli.stack_commands import name_option
from appliance.console import Console
from appliance.errors import BadInput, CheckFailed

if TYPE_CHECKING:
    from appliance.gates.registry import Registry

# boto3 and the gates' modules are imported inside the commands that use them: every other
# `appliance` command would otherwise pay for them at start-up.


@click.group("gate")
def gate() -> None:
    """Promotion gates: compare a challenger's metrics with the champion's under a policy."""


@gate.command("evaluate")
@click.option("--policy", "policy_path", required=True, metavar="FILE",
              help="GatePolicy YAML.")
@click.option("--challenger", required=True, metavar="FILE", help="Metrics JSON of the challenger.")
@click.option("--champion", metavar="FILE", help="Metrics JSON of the champion (none: absolute "
              "rules only).")
@click.option("--json", "as_json", is_flag=True, help="The decision as JSON on stdout.")
@pass_console
def evaluate(console: Console, policy_path: str, challenger: str, champion: str | None,
             as_json: bool) -> None:
    """Exit 0 when the challenger is promoted, 1 when rejected, 2 on bad input."""
    from appliance.gates import decision as decisions
    from appliance.gates import metrics as metrics_files
    from appliance.gates import policy as policies

    policy = policies.load(policy_path)
    new = metrics_files.load(challenger)
    old = metrics_files.load(champion) if champion else None
    result = decisions.evaluate(policy, new, old)
    if as_json:
        data = result.to_dict()
        console.report(json.dumps({k: data[k] for k in ("promote", "policy", "rules")}, indent=2))
    else:
        from appliance.gates.report import decision_report

        console.report(decision_report(result))
    if not result.promote:
        failed = ", ".join(f"{r.rule}({r.metric})" for r in result.failed)
        raise CheckFailed("the gate rejected the challenger", f"failed rules: {failed}")


@click.group("registry")
def registry() -> None:
    """The model registry in the stack's object store: champion, history, decisions."""


@registry.command("show")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Champion, history and decisions as JSON.")
@name_option
@pass_console
def show(console: Console, model: str, as_json: bool, name: str) -> None:
    """Show a model's champion, its history of pointer moves and its gate decisions."""
    from appliance.gates.registry import check_model_name

    store = _registry(name)
    check_model_name(model)
    history = store.history(model)
    decided = store.decisions(model)
    if not history and not decided:
        known = ", ".join(store.models()) or "none"
        raise BadInput(f"no model named {model!r} in the registry of stack {name!r}",
                       f"models: {known}", "promote one through a gated pipeline first")
    head = history[-1] if history else None
    if as_json:
        console.report(json.dumps({
            "model": model,
            "champion": None if head is None else head.to_dict(),
            "history": [r.to_dict() for r in history],
            "decisions": decided,
        }, indent=2, sort_keys=True))
        return
    from appliance.gates.report import registry_report

    console.report(registry_report(model, head, history, decided))


@registry.command("rollback")
@click.argument("model")
@name_option
@pass_console
def rollback(console: Console, model: str, name: str) -> None:
    """Move the champion pointer back to the model the current champion replaced."""
    record = _registry(name).rollback(model)
    console.ok(f"{model}: champion is {record.entry.version} again (revision {record.revision})")
    console.report(f"{model} {record.entry.version} {record.entry.model_uri}")


def _registry(name: str) -> Registry:
    from appliance.gates.registry import Registry

    return Registry(context.open_stack(name).object_store)


