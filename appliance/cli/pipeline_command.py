"""`appliance run`: run a KFP v2 pipeline on a stack and report it."""

from __future__ import annotations

import json

import click

from appliance.cli import context
from appliance.cli.context import pass_console
from appliance.cli.stack_commands import DURATION, name_option
from appliance.console import Console
from appliance.errors import CheckFailed, TimedOut
from appliance.pipelines.report import failure, run_report

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
