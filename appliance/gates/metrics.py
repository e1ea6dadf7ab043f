"""Metrics files (JSON): top-level numbers plus optional per-group numbers, decoded strictly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from appliance.errors import BadInput, InvalidDocument
from appliance.gates.policy import number, read

FIX = 'metrics are JSON like {"accuracy": 0.91, "groups": {"a": {"accuracy": 0.93}}}'


@dataclass(frozen=True)
class Metrics:
    """Named metric values, and the same kind of values per group (for fairness rules)."""

    values: dict[str, Decimal]
    groups: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def get(self, metric: str) -> Decimal | None:
        return self.values.get(metric)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: plain(v) for k, v in sorted(self.values.items())}
        if self.groups:
            data["groups"] = {
                g: {k: plain(v) for k, v in sorted(vals.items())}
                for g, vals in sorted(self.groups.items())
            }
        return data


def plain(value: Decimal) -> int | float:
    """Back to a JSON number: integers stay integers, everything else becomes a float."""
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def load(path: str | Path) -> Metrics:
    return loads(read(path, "metrics", "pass the path of a metrics JSON"), str(Path(path)))


def loads(text: str, source: str = "<metrics>") -> Metrics:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source} is not JSON", str(exc), FIX) from exc
    return decode(data, source)


def decode(data: Any, source: str = "<metrics>") -> Metrics:
    """Every value must be a number (booleans are not); every problem is reported."""
    if isinstance(data, Metrics):
        return data
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InvalidDocument(source, ["document: expected a JSON object of metrics"], FIX)
    values: dict[str, Decimal] = {}
    groups: dict[str, dict[str, Decimal]] = {}
    for key, value in data.items():
        if key == "groups":
            groups = _groups(value, problems)
            continue
        parsed = number(value)
        if parsed is None:
            problems.append(f"{key}: expected a number, got {value!r}")
        else:
            values[str(key)] = parsed
    if problems:
        raise InvalidDocument(source, problems, FIX)
    return Metrics(values, groups)


def _groups(value: Any, problems: list[str]) -> dict[str, dict[str, Decimal]]:
    if not isinstance(value, dict):
        problems.append(f"groups: expected an object of groups, got {type(value).__name__}")
        return {}
    groups: dict[str, dict[str, Decimal]] = {}
    for group, metrics in value.items():
        if not isinstance(metrics, dict):
            problems.append(f"groups.{group}: expected an object of metrics")
            continue
        parsed_group: dict[str, Decimal] = {}
        for key, raw in metrics.items():
            parsed = number(raw)
            if parsed is None:
                problems.append(f"groups.{group}.{key}: expected a number, got {raw!r}")
            else:
                parsed_group[str(key)] = parsed
        groups[str(group)] = parsed_group
    return groups
