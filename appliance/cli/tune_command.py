"""`appliance tune EXPERIMENT.yaml`: run a Katib Experiment on a stack (or without one) and report it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from appliance import paths, stacks
from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.cli.stack_commands import DURATION
from appliance.console import Console
from appliance.errors import BadInput, CheckFailed, MissingPrerequisite
from appliance.runtime.output import check_file, write_text
from appliance.runtime.state import validate_name
from appliance.stacks import DEFAULT_STACK
from appliance.tuning.report import summary

if TYPE_CHECKING:
    from appliance.tuning.interface import TuningEngine
    from appliance.tuning.model import Experiment
    from appliance.tuning.result import ExperimentResult, Progress


@click.command("tune")
@click.argument("experiment_file", metavar="EXPERIMENT.yaml",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print the whole Experiment (spec and status) as JSON on stdout.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the whole Experiment to this file (YAML, or JSON for *.json); missing "
                   "directories are created.")
@click.option("--name", "--stack", "stack_name", default=None,
              callback=lambda c, p, v: validate_name(v) if v is not None else None,
              help="Stack whose object store the trials use [default: 'default' if it is up; "
                   "otherwise trials run without a stack].")
@click.option("--timeout", type=DURATION, metavar="DURATION",
              help="Stop the experiment if it has not ended after this long, e.g. 30m (exit 4) "
                   "[default: no limit locally; 30m on kind/kube].")
@pass_console
def tune(console: Console, experiment_file: Path, as_json: bool, output: Path | None,
         stack_name: str | None, timeout: float | None) -> None:
    """Run a Katib v1beta1 Experiment on a stack; exit 1 if it ends Failed.

    The local target runs the trials as processes on this machine (also without a stack when no
    trial reads s3://); kind and kube create the Experiment in the cluster's Katib.
    """
    if output is not None:
        check_file(output, "-o")  # before the experiment runs, not after
    exp = _load(experiment_file, stack_name)
    for note in exp.notes:
        console.info(f"note: {note}")
    engine, where = _engine(exp, stack_name, experiment_file)
    budget = exp.max_trial_count if exp.max_trial_count is not None else "unlimited"
    console.info(
        f"tuning {exp.name} ({where}): {exp.algorithm.name}, {exp.parallel_trial_count} in "
        f"parallel, maxTrialCount {budget}"
    )
    progress = _ProgressLine(console)
    with context.sigterm_as_interrupt():
        try:
            result = engine.run(exp, progress=progress, timeout=timeout)
        finally:
            console.end_progress()
    if as_json:
        console.report(json.dumps(result.document, indent=2))
    else:
        console.report(summary(result))
    if output is not None:
        _write_output(output, result)
        console.info(f"wrote {output}")
    condition = result.condition
    line = f"experiment {exp.name}: {condition.get('type')} ({condition.get('reason')})"
    if result.work_dir is not None:
        line += f"; trial logs in {result.work_dir}"
    if not result.succeeded:
        raise CheckFailed(line, condition.get("message", ""))
    console.ok(line)


def _load(source: Path, stack_name: str | None) -> Experiment:
    """Katib's validation, and on the local target (with or without a stack) its refusals and
    preflight in the same list; a cluster target's engine admits what it runs itself."""
    # Imported here: Optuna costs every other command a fifth of a second at start-up.
    from appliance.tuning import experiment as experiments

    record = stacks.read(stack_name or DEFAULT_STACK)
    if record is None or record.target == "local":
        from appliance.targets.local.tuning import limits

        return limits.load(source)
    return experiments.load(source)


def _engine(exp: Experiment, stack_name: str | None, source: Path) -> tuple[TuningEngine, str]:
    """The stack's engine when one is up; without a stack only if no trial needs the object store."""
    from appliance.targets.local.tuning.engine import LocalTuningEngine

    name = stack_name or DEFAULT_STACK
    record = stacks.read(name)
    target = context.target(record.target) if record is not None else None
    status = target.status(name) if target is not None else None
    if target is not None and status is not None:
        if not status.healthy:
            raise MissingPrerequisite(
                f"stack {name!r} is not healthy",
                "a component is down",
                f"run 'appliance status --name {name}', then 'appliance down --name {name}' and "
                "'appliance up' again",
            )
        stack = target.stack(name)
        return stack.tuning, f"stack {name}"
    if stack_name is not None:
        # A named stack that does not exist is bad input (exit 2), as for every other command;
        # exit 3 is kept for "this experiment needs a stack and none is up".
        raise BadInput(f"no stack named {name!r} is up", "", f"run 'appliance up --name {name}' first")
    if needs_object_store(exp):
        raise MissingPrerequisite(
            f"{source}: the trials use s3:// URIs but no stack is up",
            "they read and write the stack's object store",
            "run 'appliance up' first (or pass --name STACK)",
        )
    # No stack: the trials run on this machine, as on the local target.
    return LocalTuningEngine(paths.home() / "tuning"), "no stack: the trials need no object store"


def _write_output(path: Path, result: ExperimentResult) -> None:
    """Write the whole Experiment; a failure (e.g. the directory went away) is a one-line error."""
    try:
        write_text(path, _serialise(result.document, path), "-o")
    except BadInput as exc:
        if result.work_dir is not None:
            exc.why += f"; the Experiment is also in {result.work_dir / 'experiment.json'}"
        raise


def needs_object_store(exp: Experiment) -> bool:
    return "s3://" in json.dumps(exp.trial_spec)


class _ProgressLine:
    """Trials done/running/failed and the best so far; printed only when it changes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last = ""

    def __call__(self, p: Progress) -> None:
        parts = [f"{p.experiment}: {p.done} done", f"{p.running} running", f"{p.failed} failed"]
        if p.early_stopped:
            parts.append(f"{p.early_stopped} early-stopped")
        if p.metrics_unavailable:
            parts.append(f"{p.metrics_unavailable} without metrics")
        if p.best_trial:
            parts.append(f"best {p.metric}={p.best_value} ({p.best_trial})")
        line = ", ".join(parts)
        # On a terminal the line is rewritten in place; elsewhere only finished trials count as news.
        key = line if self.console.color else line.replace(f", {p.running} running", "")
        if key != self.last:
            self.last = key
            self.console.progress(line)


def _serialise(document: dict[str, Any], path: Path) -> str:
    if path.suffix == ".json":
        return json.dumps(document, indent=2) + "\n"
    return yaml.safe_dump(document, sort_keys=False)
