"""Records every finished test (area, outcome, time, reason) as a JSON line for the runner.

Runs in the controlling process only; under xdist it sees the workers' reports. A test's record is
written after its teardown, so the runner can show progress while the suite runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from appliance.conformance.areas import area_of
from appliance.conformance.results import FAILED, PASSED, SKIPPED, TestResult

AREA_PROPERTY = "conformance_area"
OTHER_AREA = "other"
MAX_MESSAGE = 300
_ERROR_MARK = re.compile(r"^E\s+")


def report_area(report: Any) -> str:
    for name, value in getattr(report, "user_properties", ()):
        if name == AREA_PROPERTY:
            return str(value)
    return area_of(report.nodeid) or OTHER_AREA


def message(report: Any) -> str:
    """One line saying why a test failed or skipped."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: reason")
        text = str(longrepr[2]).removeprefix("Skipped: ")
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = getattr(crash, "message", "") or ""
        if not text:
            lines = [line for line in str(getattr(report, "longreprtext", "")).splitlines() if line.strip()]
            # pytest marks error lines with "E   "; the reason is the text after it.
            text = _ERROR_MARK.sub("", lines[-1]) if lines else ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    when = getattr(report, "when", "call")
    if report.failed and when in ("setup", "teardown"):
        first = f"error in {when}: {first}"
    return first[:MAX_MESSAGE]


@dataclass
class _Partial:
    area: str
    outcome: str = PASSED
    seconds: float = 0.0
    message: str = ""


class Recorder:
    """A pytest plugin object writing `TestResult` events to `path` (JSON lines, appended)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed at session end
        self._pending: dict[str, _Partial] = {}

    def _write(self, result: TestResult) -> None:
        self._out.write(result.to_event() + "\n")
        self._out.flush()

    def _finish(self, nodeid: str) -> None:
        partial = self._pending.pop(nodeid)
        self._write(
            TestResult(nodeid, partial.area, partial.outcome, round(partial.seconds, 3), partial.message)
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        partial = self._pending.setdefault(report.nodeid, _Partial(report_area(report)))
        partial.seconds += report.duration
        if report.failed and partial.outcome != FAILED:
            partial.outcome, partial.message = FAILED, message(report)
        elif report.skipped and partial.outcome == PASSED:
            partial.outcome, partial.message = SKIPPED, message(report)
        if report.when == "teardown":
            self._finish(report.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            reason = message(report) or "collection failed"
            area = area_of(report.nodeid) or OTHER_AREA
            self._write(TestResult(report.nodeid, area, FAILED, 0.0, f"collection error: {reason}"))

    def pytest_sessionfinish(self) -> None:
        # Tests without a teardown report: a crashed xdist worker or an interrupted session.
        for nodeid in list(self._pending):
            partial = self._pending[nodeid]
            if partial.outcome != FAILED:
                partial.outcome = FAILED
                partial.message = "did not finish (worker crashed or run interrupted)"
            self._finish(nodeid)
        self._out.close()
