"""Katib's metrics collection: TEXT (regex) and JSON parsing, observations and objective values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from appliance.tuning.model import UNAVAILABLE, Collector, Objective

# Katib's default TEXT filter (pkg/metricscollector/v1beta1/common/const.go), Go RE2 syntax.
# re.ASCII mimics RE2's ASCII-only \w, \d and \s.
DEFAULT_FILTER = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
# What Katib's validating webhook requires of a user filter: two top subexpressions.
TWO_GROUPS = re.compile(r".*\(.*\).*\(.*\).*")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
ZERO_TIMESTAMP = "0001-01-01T00:00:00Z"
_ZERO_INSTANT = int((_ZERO_TIME - _EPOCH).total_seconds()) * 1_000_000_000
_RFC3339NANO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)
_GO_DECIMAL = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_GO_SPECIAL = re.compile(r"^(?:[+-]?(?:inf|infinity)|nan)$", re.IGNORECASE)
_GO_HEX = re.compile(r"^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+$")


class CollectorError(Exception):
    """The metrics source could not be parsed (Katib's collector sidecar would exit with an error)."""


@dataclass(frozen=True)
class MetricLog:
    """One reported metric value, kept as the original string, with its timestamp."""

    name: str
    value: str
    timestamp: str = ZERO_TIMESTAMP
    instant: int = _ZERO_INSTANT  # ns since the epoch, as the collector parsed it

    @property
    def stored(self) -> int:
        """The time Katib's DB keeps: microseconds (DATETIME(6)/TIMESTAMP(6), written with Go's
        truncating ".999999" layout), so lines within one microsecond tie there."""
        return self.instant // 1_000


def go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64): the value, or None where Go returns an error."""
    if _GO_SPECIAL.match(text):
        return float(text.lower().replace("infinity", "inf"))
    if _GO_HEX.match(text):
        return float.fromhex(text)
    if not _GO_DECIMAL.match(text):
        return None
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return None  # Go reports ErrRange for overflow
    return value


def parse_rfc3339nano(text: str) -> int | None:
    """time.Parse(time.RFC3339Nano, text) as nanoseconds since the epoch, or None."""
    match = _RFC3339NANO.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                          tzinfo=UTC)
    except ValueError:
        return None
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = sign * (hours * 3600 + minutes * 60)
    else:
        offset = 0
    seconds = (moment - _EPOCH).days * 86400 + (moment - _EPOCH).seconds - offset
    nanos = int((fraction or "").ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanos


def compile_filters(filters: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(f, re.ASCII) for f in (filters or [DEFAULT_FILTER])]


def text_matches(line: str, regexes: Sequence[re.Pattern[str]]) -> list[tuple[str, str]]:
    """Every (name, value) the filters find on one line; names and values trimmed."""
    found = []
    for regex in regexes:
        if regex.groups < 2:
            continue
        for match in regex.finditer(line):
            found.append(((match.group(1) or "").strip(), (match.group(2) or "").strip()))
    return found


def parse_text(
    lines: Iterable[str], metric_names: Sequence[str], filters: Sequence[str] = ()
) -> list[MetricLog]:
    """Katib's TEXT parser: substring pre-filter, optional leading RFC3339 timestamp, regex matches."""
    regexes = compile_filters(filters)
    logs = []
    for line in lines:
        if not any(name in line for name in metric_names):
            continue
        timestamp, instant = ZERO_TIMESTAMP, _ZERO_INSTANT
        head, space, _ = line.partition(" ")
        if space:
            parsed = parse_rfc3339nano(head)
            if parsed is not None:
                timestamp, instant = head, parsed
        for name, value in text_matches(line, regexes):
            if name in metric_names:
                logs.append(MetricLog(name, value, timestamp, instant))
    return logs


def _json_timestamp(value: Any) -> tuple[str, int] | None:
    if isinstance(value, str):
        parsed = parse_rfc3339nano(value) if value else None
        return (value, parsed) if parsed is not None else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    # Go formats the float with 'f' and reads the digits after the point as a count of
    # nanoseconds, so 1.5 means 1 s + 5 ns. Reproduced on purpose.
    text = format(Decimal(repr(float(value))), "f")
    seconds_text, _, fraction = text.partition(".")
    try:
        seconds = int(seconds_text)
        nanos = int(fraction) if fraction else 0
    except ValueError:
        return None
    instant = seconds * 1_000_000_000 + nanos
    moment = datetime.fromtimestamp(instant // 1_000_000_000, UTC)
    frac = f"{instant % 1_000_000_000:09d}".rstrip("0")
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
    return stamp, instant


def parse_json(lines: Iterable[str], metric_names: Sequence[str]) -> list[MetricLog]:
    """Katib's JSON parser: one object per line; a metric counts only when its value is a string."""
    logs = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CollectorError(f"line {number} is not JSON: {exc.msg}") from exc
        if data is None:
            continue
        if not isinstance(data, dict):
            raise CollectorError(f"line {number} is not a JSON object")
        timestamp, instant = ZERO_TIMESTAMP, _ZERO_INSTANT
        if "timestamp" in data:
            parsed = _json_timestamp(data["timestamp"])
            if parsed is not None:
                timestamp, instant = parsed
        for name in metric_names:
            value = data.get(name)
            if isinstance(value, str):  # numbers are silently ignored, as in Katib
                logs.append(MetricLog(name, value, timestamp, instant))
    return logs


def observation_log(logs: list[MetricLog], metric_names: Sequence[str]) -> list[MetricLog]:
    """If the objective (first name) was never reported, Katib stores one 'unavailable' record."""
    if any(log.name == metric_names[0] for log in logs):
        return logs
    return [MetricLog(metric_names[0], UNAVAILABLE, ZERO_TIMESTAMP, _ZERO_INSTANT)]


def collect(text: str, collector: Collector, metric_names: Sequence[str]) -> list[MetricLog]:
    """The observation log a Katib collector would report for this output or metrics file."""
    lines = text.split("\n")
    if collector.kind == "File" and collector.format == "JSON":
        logs = parse_json(lines, metric_names)
    else:
        logs = parse_text(lines, metric_names, collector.filters)
    return observation_log(logs, metric_names)


def ordered(logs: Sequence[MetricLog]) -> list[MetricLog]:
    """Logs in the order Katib's DB returns them: `ORDER BY time` at microsecond precision. SQL
    defines no order among equal times; ties keep the report order (the collector's insert order)."""
    return [log for _, log in sorted(enumerate(logs), key=lambda item: (item[1].stored, item[0]))]


def observation(logs: Sequence[MetricLog], objective: Objective) -> list[dict[str, str]]:
    """Katib's getMetrics: min/max over float-parsable values (original strings), latest by time:
    the last log of the latest stored time (its `!After` lets an equal time replace it)."""
    metrics = {
        s.name: {"name": s.name, "min": UNAVAILABLE, "max": UNAVAILABLE, "latest": UNAVAILABLE}
        for s in objective.strategies
    }
    latest_at: dict[str, int] = {}
    for log in ordered(logs):
        metric = metrics.get(log.name)
        if metric is None:
            continue
        value = go_float(log.value)
        if value is not None:
            if metric["min"] == UNAVAILABLE:
                metric["min"] = metric["max"] = log.value
            elif value < float(metric["min"]):
                metric["min"] = log.value
            elif value > float(metric["max"]):
                metric["max"] = log.value
        previous = latest_at.get(log.name)
        if previous is None or not previous > log.stored:
            latest_at[log.name] = log.stored
            metric["latest"] = log.value
    # Katib ranges over a Go map here (random order); the strategies' order is kept instead.
    return list(metrics.values())


def objective_value(metrics: Sequence[dict[str, str]] | None, objective: Objective) -> str:
    """getObjectiveMetricValue: the strategy's pick, falling back to latest when min/max is missing."""
    if metrics is None:
        return UNAVAILABLE
    strategy = objective.strategy(objective.metric)
    for metric in metrics:
        if metric["name"] != objective.metric:
            continue
        if strategy == "min":
            return metric["latest"] if metric["min"] == UNAVAILABLE else metric["min"]
        if strategy == "max":
            return metric["latest"] if metric["max"] == UNAVAILABLE else metric["max"]
        if strategy == "latest":
            return metric["latest"]
    return UNAVAILABLE


def observation_available(metrics: Sequence[dict[str, str]] | None, objective: Objective) -> bool:
    """Trial.IsObservationAvailable: the objective has a latest value other than 'unavailable'."""
    if not metrics:
        return False
    return any(m["name"] == objective.metric and m["latest"] != UNAVAILABLE for m in metrics)
