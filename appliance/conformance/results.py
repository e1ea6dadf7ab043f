"""The result model of a conformance run: one record per test, summed per area.

The pytest plugin appends one JSON line per finished test to a results file (`TestResult.to_event`);
the runner reads them back (`read_events`) and builds a `ConformanceResult`, which every report
format renders. Outcomes are only `passed`, `failed` or `skipped`: an error in setup or teardown is
a failure of that test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import BadInput

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
OUTCOMES = (PASSED, FAILED, SKIPPED)
EVENT = "test"


@dataclass(frozen=True)
class TestResult:
    """One test: its pytest node id, area, outcome, time spent (setup + call + teardown), why."""

    __test__ = False  # not a pytest test class, despite the name

    id: str
    area: str
    outcome: str
    seconds: float
    message: str = ""

    def to_event(self) -> str:
        return json.dumps(
            {
                "event": EVENT,
                "id": self.id,
                "area": self.area,
                "outcome": self.outcome,
                "seconds": self.seconds,
                "message": self.message,
            },
            sort_keys=True,
        )

    @classmethod
    def from_event(cls, data: Any, source: str) -> TestResult:
        try:
            outcome = str(data["outcome"])
            if outcome not in OUTCOMES:
                raise ValueError(f"outcome {outcome!r}")
            return cls(
                id=str(data["id"]),
                area=str(data["area"]),
                outcome=outcome,
                seconds=float(data["seconds"]),
                message=str(data.get("message") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{source}: malformed result record", f"bad or missing {exc}") from exc


@dataclass(frozen=True)
class AreaSummary:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


@dataclass(frozen=True)
class ConformanceResult:
    """A whole run. `areas` are the areas that were selected, in suite order."""

    target: str
    stack: str
    profile: str
    areas: tuple[str, ...]
    tests: tuple[TestResult, ...]
    wall_seconds: float = 0.0
    problems: tuple[str, ...] = field(default=())
    # pytest's JUnit XML of the run, when it was asked for and pytest wrote it.
    junit_xml: str | None = field(default=None, compare=False, repr=False)

    def summary(self, area: str) -> AreaSummary:
        mine = [t for t in self.tests if t.area == area]
        return AreaSummary(
            passed=sum(t.outcome == PASSED for t in mine),
            failed=sum(t.outcome == FAILED for t in mine),
            skipped=sum(t.outcome == SKIPPED for t in mine),
            seconds=round(sum(t.seconds for t in mine), 3),
        )

    @property
    def failed(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.outcome == FAILED)

    @property
    def skipped(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.outcome == SKIPPED)

    @property
    def empty_areas(self) -> tuple[str, ...]:
        """Selected areas in which no test ran: a suite that tests nothing must not pass."""
        return tuple(a for a in self.areas if self.summary(a).total == 0)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.empty_areas and not self.problems


def parse_events(lines: Iterable[str], source: str) -> list[TestResult]:
    """Test records from the plugin's JSON lines; a later record for the same id replaces one."""
    found: dict[str, TestResult] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{source}: line {number} is not JSON", str(exc)) from exc
        if isinstance(data, dict) and data.get("event") == EVENT:
            result = TestResult.from_event(data, f"{source}: line {number}")
            found[result.id] = result
    return list(found.values())


def read_events(path: Path) -> list[TestResult]:
    """Records written so far (a partial last line, still being written, is left for later)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    complete = text[: text.rfind("\n") + 1]
    return parse_events(complete.splitlines(), str(path))
