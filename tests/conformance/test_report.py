"""Conformance results and reports: the JSON contract exactly, Markdown, the stderr summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from appliance.conformance import areas, report
from appliance.conformance.results import ConformanceResult, TestResult, parse_events, read_events
from appliance.errors import BadInput

TESTS = (
    TestResult("test_object_store.py::test_round_trip", "object-store", "passed", 0.5),
    TestResult("test_object_store.py::test_multipart", "object-store", "failed", 1.25, "NoSuchKey"),
    TestResult("test_serving.py::test_exact", "serving", "skipped", 0.0, "component 'serving' is absent"),
    TestResult("test_serving.py::test_4xx", "serving", "passed", 2.0),
)


def result(**changes: object) -> ConformanceResult:
    base = {
        "target": "local", "stack": "demo", "profile": "standard",
        "areas": ("object-store", "serving"), "tests": TESTS, "wall_seconds": 4.2,
    }
    return ConformanceResult(**{**base, **changes})  # type: ignore[arg-type]


def test_json_report_is_exactly_the_contract() -> None:
    assert json.loads(report.to_json(result())) == {
        "target": "local",
        "profile": "standard",
        "areas": {
            "object-store": {"passed": 1, "failed": 1, "skipped": 0, "seconds": 1.75},
            "serving": {"passed": 1, "failed": 0, "skipped": 1, "seconds": 2.0},
        },
        "tests": [
            {"id": "test_object_store.py::test_round_trip", "area": "object-store", "outcome": "passed",
             "seconds": 0.5},
            {"id": "test_object_store.py::test_multipart", "area": "object-store", "outcome": "failed",
             "seconds": 1.25},
            {"id": "test_serving.py::test_exact", "area": "serving", "outcome": "skipped", "seconds": 0.0},
            {"id": "test_serving.py::test_4xx", "area": "serving", "outcome": "passed", "seconds": 2.0},
        ],
    }


def test_the_documented_json_contract_has_the_keys_of_a_real_report() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text()
    [block] = re.findall(r"its keys are exactly these:\n\n```json\n(.*?)```", doc, re.S)
    shown = json.loads(block)
    real = json.loads(report.to_json(result()))
    assert list(shown) == list(real) == ["target", "profile", "areas", "tests"]
    assert {k: type(v) for k, v in shown.items()} == {k: type(v) for k, v in real.items()}
    area_keys = {tuple(a) for a in [*shown["areas"].values(), *real["areas"].values()]}
    test_keys = {tuple(t) for t in [*shown["tests"], *real["tests"]]}
    assert area_keys == {("passed", "failed", "skipped", "seconds")}
    assert test_keys == {("id", "area", "outcome", "seconds")}
    # The example's area and test are real ones of the shipped suite.
    [area] = shown["areas"]
    [test] = shown["tests"]
    assert area in areas.AREA_NAMES and test["area"] == area
    assert test["outcome"] in {"passed", "failed", "skipped"}
    module, name = test["id"].split("::")
    assert areas.area_of(test["id"]) == area
    assert f"\ndef {name}(" in (areas.suite_dir() / module).read_text()


def test_ok_needs_no_failure_no_empty_area_and_no_problem() -> None:
    passing = tuple(t for t in TESTS if t.outcome != "failed")
    assert result(tests=passing).ok
    assert not result().ok
    assert result(tests=passing, areas=("object-store", "serving", "tuning")).empty_areas == ("tuning",)
    assert not result(tests=passing, areas=("object-store", "serving", "tuning")).ok
    assert not result(tests=passing, problems=("pytest exit code 3: internal error",)).ok


def test_markdown_report_lists_areas_failures_and_skips() -> None:
    text = report.to_markdown(result())
    assert text.startswith("# Conformance report\n")
    assert "Target `local`, stack `demo`, profile `standard`: **FAILED**, 2 passed, 1 failed, " \
           "1 skipped in 4.2 s." in text
    assert "| object-store | 1 | 1 | 0 | 1.8 |" in text
    assert "| serving | 1 | 0 | 1 | 2.0 |" in text
    assert "## Failures\n\n- `test_object_store.py::test_multipart` (object-store): NoSuchKey" in text
    assert "## Skipped\n\n- `test_serving.py::test_exact` (serving): component 'serving' is absent" in text
    assert "| `test_serving.py::test_4xx` | serving | passed | 2.00 |" in text


def test_markdown_escapes_table_pipes() -> None:
    odd = TestResult("t.py::test[a|b]", "serving", "failed", 0.1, "x | y\nsecond line")
    text = report.to_markdown(result(tests=(odd,)))
    assert "`t.py::test[a\\|b]`" in text and "x \\| y second line" in text


def test_summary_lines() -> None:
    lines = report.summary_lines(result(areas=("object-store", "serving", "tuning")))
    assert lines[0] == "✗ object-store    1 passed   1 failed   0 skipped     1.8s"
    assert lines[1] == "✓ serving         1 passed   0 failed   1 skipped     2.0s"
    assert lines[2] == "✗ tuning          0 passed   0 failed   0 skipped     0.0s"
    assert "  ✗ tuning: no test ran" in lines
    assert "  FAILED test_object_store.py::test_multipart: NoSuchKey" in lines
    assert lines[-1] == "conformance FAILED: 2 passed, 1 failed, 1 skipped in 4.2 s"


def test_report_format_follows_the_file_name(tmp_path: Path) -> None:
    assert report.format_for(Path("r.json")) == "json"
    assert report.format_for(Path("r.MD")) == "markdown"
    with pytest.raises(BadInput) as bad:
        report.format_for(Path("r.txt"))
    assert bad.value.render() == (
        "--report r.txt: unknown report format '.txt': the format follows the file name "
        "(fix: name the report file *.json or *.md)"
    )
    report.write(result(), tmp_path / "out" / "r.json")
    assert json.loads((tmp_path / "out" / "r.json").read_text())["profile"] == "standard"


def test_events_round_trip_and_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert read_events(path) == []
    path.write_text("".join(t.to_event() + "\n" for t in TESTS) + '{"event": "test", "id"')
    assert read_events(path) == list(TESTS)  # the half-written last line waits for its newline
    again = TestResult(TESTS[0].id, "object-store", "failed", 1.0, "rerun")
    assert parse_events([TESTS[0].to_event(), again.to_event()], "x") == [again]


def test_malformed_events_name_the_line() -> None:
    with pytest.raises(BadInput) as bad:
        parse_events(['{"event": "test", "id": "a", "area": "x", "outcome": "great", "seconds": 1}'],
                     "r.jsonl")
    assert bad.value.what == "r.jsonl: line 1: malformed result record"
    with pytest.raises(BadInput, match="line 2 is not JSON"):
        parse_events(["", "{"], "r.jsonl")
