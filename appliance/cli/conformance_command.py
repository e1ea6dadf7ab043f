"""`appliance conformance`: run the conformance suite against a stack and report per area."""

from __future__ import annotations

from pathlib import Path

import click

from appliance import targets
from appliance.cli.context import pass_console
from appliance.conformance import report, runner
from appliance.conformance.areas import AREA_NAMES
from appliance.conformance.invocation import MAX_WORKERS, RunOptions
from appliance.console import Console
from appliance.errors import ApplianceError, BadInput, CheckFailed
from appliance.runtime.output import write_text


@click.command("conformance")
@click.option("--target", type=click.Choice(targets.TARGETS),
              help="Target of the stack (default: the stack's own; new stacks: $APPLIANCE_TARGET, "
                   "else local).")
@click.option("--stack", "stack_name", metavar="NAME",
              help="A running stack to test (default: the stack 'default' when it is up and "
                   "healthy, else an ephemeral one started and stopped by this run).")
@click.option("--profile", default="standard", show_default=True,
              help="Profile of an ephemeral stack (ignored when a running stack is tested).")
@click.option("--area", "areas", multiple=True, type=click.Choice(AREA_NAMES),
              help="Run only this area (repeatable; default: all).")
@click.option("-n", "--workers", type=click.IntRange(0, MAX_WORKERS), default=0, show_default=True,
              help="pytest-xdist worker processes (0: serial).")
@click.option("--junitxml", type=click.Path(dir_okay=False, path_type=Path),
              help="Write JUnit XML here (missing directories are created).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here: *.json (the JSON contract) or *.md (default: Markdown on stdout); "
                   "missing directories are created.")
@click.argument("pytest_args", nargs=-1, metavar="[-- PYTEST_ARGS...]")
@pass_console
def conformance(
    console: Console,
    target: str | None,
    stack_name: str | None,
    profile: str,
    areas: tuple[str, ...],
    workers: int,
    junitxml: Path | None,
    report_path: Path | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Prove a stack works: object store, pipelines, tuning, serving, promotion gates.

    Prints a per-area summary on stderr and exits 1 when any test fails.
    """
    options = RunOptions(
        target=target, stack=stack_name, profile=profile, areas=areas, workers=workers,
        junitxml=junitxml, report=report_path, pytest_args=pytest_args,
    )
    result = runner.run(options, console)
    for line in report.summary_lines(result):
        console.info(line)
    unwritten: list[ApplianceError] = []
    if report_path is None:
        console.report(report.to_markdown(result))
    else:
        text = report.render(result, report.format_for(report_path))
        _write(report_path, text, "--report", "report", console, unwritten)
    if junitxml is not None:
        if result.junit_xml is None:
            unwritten.append(BadInput(f"--junitxml {junitxml}: not written",
                                      "pytest produced no JUnit XML (the suite did not finish)",
                                      "see the errors above; rerun with -v"))
        else:
            _write(junitxml, result.junit_xml, "--junitxml", "JUnit XML", console, unwritten)
    for error in unwritten:
        console.error(error.render())
    if not result.ok:
        raise CheckFailed(
            f"conformance failed on stack {result.stack!r}",
            f"{len(result.failed)} test(s) failed"
            + (f", {len(result.empty_areas)} area(s) ran no test" if result.empty_areas else "")
            + (f", {len(result.problems)} problem(s)" if result.problems else ""),
        )
    if unwritten:
        raise BadInput(f"conformance passed on stack {result.stack!r}, but "
                       f"{len(unwritten)} output file(s) could not be written", "see above")


def _write(path: Path, text: str, option: str, what: str, console: Console,
           unwritten: list[ApplianceError]) -> None:
    """Write one output file; say so only once it is written, else keep the error for the end."""
    try:
        write_text(path, text, option)
    except BadInput as exc:
        unwritten.append(exc)
        return
    console.info(f"{what} written to {path}")


