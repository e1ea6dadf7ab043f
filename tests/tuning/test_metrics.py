"""Katib's metrics collection: the default regex's edge cases, JSON string-only values, observations."""

from __future__ import annotations

import pytest

from appliance.tuning import metrics
from appliance.tuning.metrics import MetricLog
from appliance.tuning.model import Collector, MetricStrategy, Objective


def pairs(line: str) -> list[tuple[str, str]]:
    return metrics.text_matches(line, metrics.compile_filters([]))


# The reference's table of what the default filter does with a line.
@pytest.mark.parametrize(("line", "expected"), [
    ("epoch 1: loss=0.3 accuracy=.98", [("loss", "0.3"), ("accuracy", ".98")]),
    ("Score=-7.53e-05", [("Score", "-7.53e-05")]),
    ("Validation-accuracy=0.91", [("Validation-accuracy", "0.91")]),
    ("acc = 1E0", [("acc", "1E0")]),
    ("lr=1e-3 step=10", [("lr", "1e-3"), ("step", "10")]),
    ("loss: 0.3", []),
    ("{'loss': 0.3}", []),
    ("loss=nan", [("loss", "")]),
    ("f1|x=2", [("f1|x", "2")]),
    ("épsilon=1", [("psilon", "1")]),  # RE2's \w is ASCII-only
])
def test_default_filter_table(line: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(line) == expected


def test_text_parsing_prefilters_by_substring_and_keeps_only_exact_names() -> None:
    lines = [
        "val_accuracy=0.5",            # contains "accuracy" but the name is val_accuracy
        "loss=0.9 accuracy=0.6",       # both names
        "train loss=0.1",              # "loss" but no "accuracy" line: still a metric line
        "speed=3",                     # no metric name in it: skipped before any regex
        "accuracy=0.7 accuracy=0.8",   # one line, two reports
    ]
    logs = metrics.parse_text(lines, ["accuracy", "loss"])
    assert [(log.name, log.value) for log in logs] == [
        ("loss", "0.9"), ("accuracy", "0.6"), ("loss", "0.1"), ("accuracy", "0.7"), ("accuracy", "0.8")]


def test_leading_rfc3339_timestamps_order_the_latest_value() -> None:
    lines = [
        "2024-01-01T00:00:02Z accuracy=0.9",
        "2024-01-01T00:00:01.5+00:00 accuracy=0.1",
        "no-time accuracy=0.2",
    ]
    logs = metrics.parse_text(lines, ["accuracy"])
    assert [log.timestamp for log in logs] == [
        "2024-01-01T00:00:02Z", "2024-01-01T00:00:01.5+00:00", metrics.ZERO_TIMESTAMP]
    objective = Objective("maximize", "accuracy", strategies=(MetricStrategy("accuracy", "latest"),))
    (observed,) = metrics.observation(logs, objective)
    # The newest timestamp wins, not the last line.
    assert observed == {"name": "accuracy", "min": "0.1", "max": "0.9", "latest": "0.9"}


def test_user_filters_replace_the_default() -> None:
    lines = ["acc: 0.5 (epoch 1)", "acc: 0.75 (epoch 2)", "accuracy=0.99"]
    logs = metrics.parse_text(lines, ["acc"], [r"(\w+):\s*([\d.]+)"])
    assert [(log.name, log.value) for log in logs] == [("acc", "0.5"), ("acc", "0.75")]


def test_json_values_count_only_as_strings() -> None:
    lines = [
        '{"accuracy": "0.8", "loss": 0.2}',
        '{"accuracy": 0.95}',
        "",
        '{"accuracy": " 0.9 ", "timestamp": 1700000000.5}',
        "null",
    ]
    logs = metrics.parse_json(lines, ["accuracy", "loss"])
    assert [(log.name, log.value) for log in logs] == [("accuracy", "0.8"), ("accuracy", " 0.9 ")]
    # Katib reads the float timestamp's digits after the point as nanoseconds: .5 means 5 ns.
    assert logs[1].instant == 1700000000 * 10**9 + 5
    assert logs[1].timestamp == "2023-11-14T22:13:20.000000005Z"
    objective = Objective("maximize", "accuracy", additional=("loss",), strategies=(
        MetricStrategy("accuracy", "max"), MetricStrategy("loss", "max")))
    observed = metrics.observation(logs, objective)
    # " 0.9 " does not parse as a Go float, so it never becomes min or max, but it is the latest.
    assert observed == [
        {"name": "accuracy", "min": "0.8", "max": "0.8", "latest": " 0.9 "},
        {"name": "loss", "min": "unavailable", "max": "unavailable", "latest": "unavailable"},
    ]


def test_json_lines_must_be_objects() -> None:
    with pytest.raises(metrics.CollectorError, match="line 2 is not JSON"):
        metrics.parse_json(['{"a": "1"}', "accuracy=0.9"], ["a"])
    with pytest.raises(metrics.CollectorError, match="line 1 is not a JSON object"):
        metrics.parse_json(["[1, 2]"], ["a"])


def test_a_missing_objective_becomes_one_unavailable_record() -> None:
    collector = Collector("StdOut")
    logs = metrics.collect("loss=0.5\nhello\n", collector, ["accuracy", "loss"])
    assert logs == [MetricLog("accuracy", "unavailable")]
    json_collector = Collector("File", "/m.json", "JSON")
    logs = metrics.collect('{"accuracy": 0.9}\n', json_collector, ["accuracy"])
    assert logs == [MetricLog("accuracy", "unavailable")]


def test_strategies_and_the_objective_value() -> None:
    logs = [MetricLog("accuracy", v) for v in ("0.5", "0.9", "0.7", "n/a")]
    for strategy, expected in (("min", "0.5"), ("max", "0.9"), ("latest", "n/a")):
        objective = Objective("maximize", "accuracy",
                              strategies=(MetricStrategy("accuracy", strategy),))
        observed = metrics.observation(logs, objective)
        assert observed[0]["min"] == "0.5" and observed[0]["max"] == "0.9"
        assert metrics.objective_value(observed, objective) == expected
    # min/max fall back to latest when no value parsed as a float.
    objective = Objective("maximize", "accuracy", strategies=(MetricStrategy("accuracy", "max"),))
    observed = metrics.observation([MetricLog("accuracy", "")], objective)
    assert observed == [{"name": "accuracy", "min": "unavailable", "max": "unavailable", "latest": ""}]
    assert metrics.objective_value(observed, objective) == ""
    assert metrics.observation_available(observed, objective)
    assert metrics.objective_value(None, objective) == "unavailable"


def test_observation_keeps_the_original_strings() -> None:
    objective = Objective("minimize", "loss", strategies=(MetricStrategy("loss", "min"),))
    logs = [MetricLog("loss", v) for v in ("1e-3", "0.0010", "+5")]
    assert metrics.observation(logs, objective) == [
        {"name": "loss", "min": "1e-3", "max": "+5", "latest": "+5"}]


@pytest.mark.parametrize(("text", "value"), [
    ("1", 1.0), ("-2.5", -2.5), (".5", 0.5), ("5.", 5.0), ("1E3", 1000.0), ("+Inf", float("inf")),
    ("0x1p-2", 0.25), ("", None), (" 1", None), ("1_000", None), ("abc", None), ("1e400", None),
])
def test_go_float(text: str, value: float | None) -> None:
    assert metrics.go_float(text) == value
    assert metrics.go_float("NaN") != metrics.go_float("NaN")  # a NaN


@pytest.mark.parametrize(("text", "nanos"), [
    ("1970-01-01T00:00:01Z", 10**9),
    ("1970-01-01T00:00:00.000000001Z", 1),
    ("1970-01-01T01:00:00+01:00", 0),
    ("1970-01-01 00:00:00Z", None),
    ("1970-13-01T00:00:00Z", None),
    ("2024-01-01T00:00:00", None),
])
def test_rfc3339nano(text: str, nanos: int | None) -> None:
    assert metrics.parse_rfc3339nano(text) == nanos
