"""Report formats over one ConformanceResult: the JSON contract, Markdown, and the stderr summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appliance.conformance.results import ConformanceResult, TestResult
from appliance.errors import BadInput
from appliance.runtime.state import write_atomic

FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown"}


def format_for(path: Path) -> str:
    """The report format a file name asks for (by its suffix)."""
    chosen = FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise BadInput(
            f"--report {path}: unknown report format {path.suffix or '(no suffix)'!r}",
            "the format follows the file name",
            "name the report file *.json or *.md",
        )
    return chosen


def to_dict(result: ConformanceResult) -> dict[str, Any]:
    """The JSON report contract (docs/conformance.md): exactly these keys."""
    areas = {}
    for area in result.areas:
        summary = result.summary(area)
        areas[area] = {
            "passed": summary.passed,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "seconds": round(summary.seconds, 3),
        }
    return {
        "target": result.target,
        "profile": result.profile,
        "areas": areas,
        "tests": [
            {"id": t.id, "area": t.area, "outcome": t.outcome, "seconds": round(t.seconds, 3)}
            for t in result.tests
        ],
    }


def to_json(result: ConformanceResult) -> str:
    return json.dumps(to_dict(result), indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(result: ConformanceResult) -> str:
    return "PASSED" if result.ok else "FAILED"


def _totals(result: ConformanceResult) -> str:
    passed = sum(result.summary(a).passed for a in result.areas)
    return (
        f"{passed} passed, {len(result.failed)} failed, {len(result.skipped)} skipped "
        f"in {result.wall_seconds:.1f} s"
    )


def _listed(tests: tuple[TestResult, ...]) -> list[str]:
    return [f"- `{t.id}` ({t.area}): {_cell(t.message) or '(no message)'}" for t in tests]


def to_markdown(result: ConformanceResult) -> str:
    lines = [
        "# Conformance report",
        "",
        f"Target `{result.target}`, stack `{result.stack}`, profile `{result.profile}`: "
        f"**{_verdict(result)}**, {_totals(result)}.",
        "",
        "| area | passed | failed | skipped | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for area in result.areas:
        s = result.summary(area)
        lines.append(f"| {area} | {s.passed} | {s.failed} | {s.skipped} | {s.seconds:.1f} |")
    if result.problems or result.empty_areas:
        lines += ["", "## Problems", ""]
        lines += [f"- {_cell(p)}" for p in result.problems]
        lines += [f"- area {a}: no test ran" for a in result.empty_areas]
    if result.failed:
        lines += ["", "## Failures", "", *_listed(result.failed)]
    if result.skipped:
        lines += ["", "## Skipped", "", *_listed(result.skipped)]
    lines += ["", "## Tests", "", "| test | area | outcome | seconds |", "|---|---|---|---:|"]
    for t in result.tests:
        lines.append(f"| `{_cell(t.id)}` | {t.area} | {t.outcome} | {t.seconds:.2f} |")
    return "\n".join(lines) + "\n"


def render(result: ConformanceResult, fmt: str) -> str:
    return to_json(result) if fmt == "json" else to_markdown(result)


def write(result: ConformanceResult, path: Path) -> None:
    write_atomic(path, render(result, format_for(path)))


def summary_lines(result: ConformanceResult) -> list[str]:
    """The per-area summary for stderr, then one line per failure and skip."""
    width = max([len(a) for a in result.areas] + [4])
    lines = []
    for area in result.areas:
        s = result.summary(area)
        mark = "✗" if s.failed or not s.total else "✓"
        lines.append(
            f"{mark} {area:<{width}}  {s.passed:>3} passed {s.failed:>3} failed "
            f"{s.skipped:>3} skipped  {s.seconds:6.1f}s"
        )
    lines += [f"  ✗ {p}" for p in result.problems]
    lines += [f"  ✗ {a}: no test ran" for a in result.empty_areas]
    lines += [f"  FAILED {t.id}: {t.message}" for t in result.failed]
    lines += [f"  SKIPPED {t.id}: {t.message}" for t in result.skipped]
    lines.append(f"conformance {_verdict(result)}: {_totals(result)}")
    return lines
