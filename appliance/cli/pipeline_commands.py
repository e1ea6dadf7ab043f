"""`appliance run | gate evaluate | registry show/rollback`: pipelines and promotion gates."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.cli.stack_commands import DURATION, name_option
from appliance.console import Console
from appliance.errors import BadInput, CheckFailed, TimedOut
from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED, PipelineRun

if TYPE_CHECKING:
    from appliance.gates.decision import Decision
    from appliance.gates.registry import Record, Registry

MAX_RETRIES = 100

# kfp and boto3 are imported inside the commands that use them: importing kfp costs about a
# second, which every other `appliance` command would otherwise pay at start-up.


@click.command("run")
@click.argument("pipeline")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A pipeline parameter (repeatable); typed by the pipeline's declaration.")
@click.option("--json", "as_json", is_flag=True, help="The PipelineRun as JSON on stdout.")
@click.option("--cache/--no-cache", default=False, show_default=True,
              help="Reuse outputs of identical earlier tasks (kfp.local caching).")
# Bounded: the spec stores retries as int32, so a huge count failed as a ValueError traceback.
@click.option("--retries", type=click.IntRange(min=0, max=MAX_RETRIES),
              help="Retries per task for this run, 0-100 (default: as the pipeline sets them).")
@click.option("--timeout", type=DURATION, metavar="DURATION",
              help="Stop the run after this long, e.g. 90s, 25m or 2h (default 20m); exit 4.")
@name_option
@pass_console
def run(console: Console, pipeline: str, params: tuple[str, ...], as_json: bool, cache: bool,
        retries: int | None, timeout: float | None, name: str) -> None:
    """Run a KFP v2 pipeline (FILE.py[:NAME] or compiled YAML) on a stack."""
    from appliance.pipelines import arguments, loader

    loaded = loader.load(pipeline)
    typed = arguments.check(loaded, arguments.parse_pairs(params), text=True)
    stack = context.open_stack(name)
    console.info(f"running pipeline {loaded.name!r} on stack {name!r}")
    # The engine stops the run (a cluster's KFP run is terminated, local task processes end) on
    # a timeout, on Ctrl-C and on SIGTERM, before the error reaches the user.
    try:
        with context.sigterm_as_interrupt():
            result = stack.pipelines.run(loaded, typed, caching=cache, retries=retries,
                                         timeout=timeout, progress=console.progress)
    except TimedOut as exc:
        exc.fix = f"run it again with a larger --timeout than {duration(exc.seconds)}" + \
            (f"; {exc.fix}" if exc.fix else "")
        raise
    finally:
        console.end_progress()
    console.report(json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str)
                   if as_json else run_report(result))
    if not result.succeeded:
        raise CheckFailed(*failure(result))


def duration(seconds: float) -> str:
    """90s, 25m, 2h: as --timeout takes it."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"


def run_report(result: PipelineRun) -> str:
    marks = {SUCCEEDED: "✓", FAILED: "✗", SKIPPED: "-"}
    lines = [f"pipeline {result.pipeline}  run {result.run_id}  {result.state}  "
             f"({result.duration_seconds:.1f}s)"]
    width = max([len(t.key) for t in result.tasks] + [4])
    for task in result.tasks:
        timing = f"{task.duration_seconds:5.1f}s" if task.state != SKIPPED else "      "
        retried = f"  ({task.attempts} attempts)" if task.attempts > 1 else ""
        lines.append(f"  {marks.get(task.state, '•')} {task.key:<{width}}  {task.state:<9} "
                     f"{timing}{retried}  {task.error}".rstrip())
    if result.state == FAILED and not result.failed_tasks:
        lines.append(f"failed: {result.error or 'the run failed'}")  # no task row says why
    if result.outputs:
        lines.append(f"outputs: {json.dumps(result.outputs, sort_keys=True, default=str)}")
    for task in result.tasks:
        if task.state == FAILED and task.log:
            lines.append(f"log tail of {task.key}:")
            lines += [f"  {line}" for line in task.log_tail().splitlines()]
    for note in result.warnings:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def failure(result: PipelineRun) -> tuple[str, str, str]:
    if result.failed_tasks:
        first = result.task(result.failed_tasks[0])
        if not first.attempts:
            # kfp.local's orchestration failed around the task: there is no log to read.
            return (f"pipeline {result.pipeline!r} failed at task {first.key}", first.error,
                    "the local runner (kfp.local) failed here, the task's code never ran; see "
                    "'What kfp.local cannot run' in docs/pipelines.md, or run the pipeline on a "
                    "cluster target")
        return (f"pipeline {result.pipeline!r} failed at task {first.key}",
                first.error or "the task exited non-zero",
                f"see the task's log above; everything is under {result.root}")
    return (f"pipeline {result.pipeline!r} failed", result.error or "the run failed",
            f"see {result.root}")


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
        console.report(decision_report(result))
    if not result.promote:
        failed = ", ".join(f"{r.rule}({r.metric})" for r in result.failed)
        raise CheckFailed("the gate rejected the challenger", f"failed rules: {failed}")


def decision_report(result: Decision) -> str:
    lines = []
    for rule in result.rules:
        mark = "✓" if rule.passed else "✗"
        lines.append(f"{mark} {rule.rule:<11} {rule.metric:<16} {rule.detail}")
    lines.append(f"{'PROMOTE' if result.promote else 'REJECT'} (policy {result.policy})")
    return "\n".join(lines)


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
    console.report(registry_report(model, head, history, decided))


def registry_report(model: str, head: Record | None, history: list[Record],
                    decided: list[dict[str, Any]]) -> str:
    if head is None:
        lines = [f"model {model}: no champion"]
    else:
        lines = [f"model {model}: champion {head.entry.version} (revision {head.revision})",
                 f"  uri      {head.entry.model_uri}",
                 f"  metrics  {json.dumps(head.entry.metrics, sort_keys=True)}"]
    lines.append("history:")
    for record in history:
        lines.append(f"  {record.revision:>4}  {record.action:<8} {record.entry.version:<20} "
                     f"{record.at}")
    promoted = sum(1 for d in decided if d.get("promote"))
    lines.append(f"decisions: {len(decided)} ({promoted} promote, {len(decided) - promoted} reject)")
    return "\n".join(lines)


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


