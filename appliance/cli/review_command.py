"""`appliance review`: offline security review of profiles and manifests (glue over appliance.review)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from appliance.cli.context import pass_console
from appliance.console import Console
from appliance.errors import BadInput, CheckFailed
from appliance.review import Options, Report, Severity, known_rules, pss, review, sources
from appliance.review import diff as diff_mod
from appliance.review import exceptions as exc_mod
from appliance.review.formats import FORMATS, render
from appliance.review.formats.text import summary_line
from appliance.review.model import SEVERITY_NAMES
from appliance.runtime.output import check_file, write_text


@click.command("review")
@click.option("--profile", metavar="P", help="Review the rendered bundle of profile P.")
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Manifest file or directory to review (repeatable; `-` reads stdin).")
@click.argument("more_files", nargs=-1, metavar="[FILE]...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Report format.")
@click.option("--fail-on", type=click.Choice(SEVERITY_NAMES), default="high", show_default=True,
              help="Exit 1 when an unsuppressed finding at or above this severity remains.")
@click.option("--exceptions", "exceptions_file", metavar="FILE",
              help="YAML file of exceptions: rule, resource, reason (required), expires.")
@click.option("--kubernetes-version", default="latest", show_default=True, metavar="X.Y",
              help="Kubernetes version whose Pod Security Standards apply.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the report to FILE (default: stdout; missing directories are created).")
@click.option("--baseline", metavar="REPORT",
              help="JSON report of an earlier review: fail only on findings not in it.")
@click.option("--diff", "diff_pair", nargs=2, metavar="A B",
              help="Compare two reviews (profiles, manifest files or JSON reports).")
@pass_console
def review_cmd(console: Console, profile: str | None, files: tuple[str, ...],
               more_files: tuple[str, ...], fmt: str, fail_on: str,
               exceptions_file: str | None, kubernetes_version: str, output: str | None,
               baseline: str | None, diff_pair: tuple[str, str] | None) -> None:
    """Review manifests offline for Pod Security, RBAC, exposure, network policy, images,
    resources and credentials. Exit 0 when nothing at or above --fail-on remains unsuppressed,
    1 otherwise, 2 on bad input."""
    all_files = [*files, *more_files]
    chosen = sum(bool(x) for x in (profile, all_files, diff_pair))
    if chosen != 1:
        raise BadInput("appliance review needs exactly one input",
                       "give --profile P, -f FILE..., or --diff A B",
                       "see `appliance review --help`")
    try:
        version = pss.parse_version(kubernetes_version)
    except ValueError as exc:
        raise BadInput(f"--kubernetes-version: {exc}",
                       fix=f"pass X.Y up to {pss.format_version(pss.LATEST)}, or latest") from None
    if output is not None:
        check_file(Path(output), "-o")  # before the review runs, not after
    rules = known_rules()
    records = exc_mod.load_file(exceptions_file, rules) if exceptions_file else []
    threshold = Severity.parse(fail_on)
    if diff_pair:
        _diff(console, diff_pair, fmt, threshold, records, version, output)
        return
    started = time.monotonic()
    source = sources.from_profile(profile, rules) if profile else sources.from_files(all_files)
    _require_objects(source)
    options = Options(version, [*source.exceptions, *records])
    if baseline:
        options.baseline = {f.fingerprint for f in sources.load_report(baseline).findings}
    report = review(source.documents, options, source.sources)
    _write(console, render(report, fmt), output)
    for note in report.notes:
        console.info(f"note: {note}")
    _finish(console, report, threshold, time.monotonic() - started, baseline is not None)


def _finish(console: Console, report: Report, threshold: Severity, seconds: float,
            baselined: bool) -> None:
    failing = report.gating(threshold)
    what = f"reviewed {report.inventory.objects} objects: {summary_line(report)}"
    if not failing:
        console.ok(f"{what} (nothing at or above {threshold.value})", seconds)
        return
    console.fail(what, seconds)
    new = "new " if baselined else ""
    raise CheckFailed(f"{len(failing)} {new}finding(s) at or above {threshold.value}",
                      fix="fix them, or record an exception with a reason (--exceptions)")


def _require_objects(source: sources.ReviewInput) -> None:
    # An empty input would pass the gate: `render --profile bogus | review -f -` must not.
    if not source.documents:
        raise BadInput(f"{source.label or 'the input'}: no Kubernetes objects to review",
                       "the input is empty or holds only comments",
                       "pass manifests with apiVersion and kind (is the producing command failing?)")


def _load_side(arg: str, records: list[exc_mod.ExceptionRecord], version: pss.Version) -> Report:
    if sources.is_report(arg):
        return sources.load_report(arg)
    if os.path.exists(arg) or arg == "-":
        source = sources.from_files([arg])
    else:
        source = sources.from_profile(arg, known_rules())
    _require_objects(source)
    return review(source.documents, Options(version, [*source.exceptions, *records]),
                  source.sources)


def _diff(console: Console, pair: tuple[str, str], fmt: str, threshold: Severity,
          records: list[exc_mod.ExceptionRecord], version: pss.Version,
          output: str | None) -> None:
    if fmt == "sarif":
        raise BadInput("--diff does not write SARIF", fix="use --format text, markdown or json")
    before, after = (_load_side(arg, records, version) for arg in pair)
    result = diff_mod.diff(before, after, pair[0], pair[1])
    _write(console, diff_mod.render(result, fmt), output)
    failing = result.gating(threshold)
    what = f"{len(result.added)} added, {len(result.resolved)} resolved"
    if failing:
        console.fail(what)
        raise CheckFailed(f"{len(failing)} added finding(s) at or above {threshold.value}",
                          fix="fix them, or record an exception with a reason (--exceptions)")
    console.ok(f"{what} (nothing new at or above {threshold.value})")


def _write(console: Console, text: str, output: str | None) -> None:
    if output is None:
        console.report(text)
        return
    write_text(Path(output), text, "-o")
    console.ok(f"wrote {output}")


