"""Gate policies (kind GatePolicy): strict decoding that reports every problem with its path."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.config.strict import unknown_fields
from appliance.errors import BadInput, InvalidDocument

API_VERSION = "appliance.dev/v1alpha1"
KIND = "GatePolicy"
DIRECTIONS = ("maximize", "minimize")
DEFAULT_LATENCY_METRIC = "latency_p99_ms"
FIX = "see docs/gates.md for the GatePolicy format"


@dataclass(frozen=True)
class Threshold:
    """An absolute floor (min) and/or ceiling (max) on one metric; both bounds inclusive."""

    metric: str
    min: Decimal | None = None
    max: Decimal | None = None


@dataclass(frozen=True)
class Fairness:
    """The largest allowed difference of one metric between any two groups (inclusive)."""

    metric: str
    max_gap: Decimal


@dataclass(frozen=True)
class Latency:
    """A latency ceiling: the metric (milliseconds) must not exceed max (inclusive)."""

    metric: str
    max: Decimal


@dataclass(frozen=True)
class Policy:
    name: str
    primary_metric: str
    direction: str = "maximize"
    min_improvement: Decimal = Decimal(0)
    required: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    fairness: tuple[Fairness, ...] = ()
    latency: Latency | None = None
    source: str = field(default="<policy>", compare=False)


def number(value: Any) -> Decimal | None:
    """A JSON/YAML number as the decimal it was written as; None for anything else (bools too).

    Floats go through their shortest repr so that 0.7 - 0.69 is exactly 0.01: the policy's
    inclusive boundaries hold for the numbers as written, not their binary approximations.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def read(path: str | Path, what: str, fix: str) -> str:
    """The text of a policy or metrics file (`what`); missing or unreadable is bad input (exit 2)."""
    source = Path(path)
    try:
        return source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{what} file {source} not found", "", fix) from None
    except OSError as exc:
        raise BadInput(f"cannot read {what} file {source}", str(exc)) from exc


def load(path: str | Path) -> Policy:
    """Read and decode a policy file; every problem is reported at once (exit 2)."""
    return loads(read(path, "policy", "pass the path of a GatePolicy YAML"), str(Path(path)))


def loads(text: str, source: str = "<policy>") -> Policy:
    try:
        data = safe_yaml.load(text, source)
    except yaml.YAMLError as exc:
        raise BadInput(f"{source} is not valid YAML", " ".join(str(exc).split()), FIX) from exc
    return decode(data, source)


def decode(data: Any, source: str = "<policy>") -> Policy:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InvalidDocument(source, ["document: expected a mapping (a GatePolicy)"], FIX)
    unknown_fields(data, {"apiVersion", "kind", "metadata", "spec"}, "", problems)
    if data.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion: expected {API_VERSION!r}, got {data.get('apiVersion')!r}")
    if data.get("kind") != KIND:
        problems.append(f"kind: expected {KIND!r}, got {data.get('kind')!r}")
    name = _metadata_name(data.get("metadata"), problems)
    spec = data.get("spec")
    if not isinstance(spec, dict):
        problems.append("spec: expected a mapping")
        raise InvalidDocument(source, problems, FIX)
    unknown_fields(
        spec,
        {"primaryMetric", "direction", "minImprovement", "required", "thresholds", "fairness",
         "latency"},
        "spec.",
        problems,
    )
    primary = _string(spec.get("primaryMetric"), "spec.primaryMetric", problems)
    direction = spec.get("direction", "maximize")
    if direction not in DIRECTIONS:
        problems.append(f"spec.direction: expected one of {', '.join(DIRECTIONS)}, got {direction!r}")
    min_improvement = _non_negative(spec.get("minImprovement", 0), "spec.minImprovement", problems)
    required = _required(spec.get("required", []), problems)
    thresholds = _thresholds(spec.get("thresholds", []), problems)
    fairness = _fairness(spec.get("fairness", []), problems)
    latency = _latency(spec.get("latency"), problems)
    if problems:
        raise InvalidDocument(source, problems, FIX)
    return Policy(
        name=name,
        primary_metric=primary,
        direction=str(direction),
        min_improvement=min_improvement or Decimal(0),
        required=required,
        thresholds=thresholds,
        fairness=fairness,
        latency=latency,
        source=source,
    )


def _metadata_name(metadata: Any, problems: list[str]) -> str:
    if not isinstance(metadata, dict):
        problems.append("metadata: expected a mapping with a name")
        return ""
    unknown_fields(metadata, {"name", "description"}, "metadata.", problems)
    return _string(metadata.get("name"), "metadata.name", problems)


def _string(value: Any, path: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not value:
        problems.append(f"{path}: required non-empty string, got {value!r}")
        return ""
    return value


def _non_negative(value: Any, path: str, problems: list[str]) -> Decimal | None:
    parsed = number(value)
    if parsed is None:
        problems.append(f"{path}: expected a number, got {value!r}")
    elif parsed < 0:
        problems.append(f"{path}: must be >= 0, got {value!r}")
        return None
    return parsed


def _list(value: Any, path: str, problems: list[str]) -> list[Any]:
    if not isinstance(value, list):
        problems.append(f"{path}: expected a list, got {type(value).__name__}")
        return []
    return value


def _required(value: Any, problems: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    for index, item in enumerate(_list(value, "spec.required", problems)):
        name = _string(item, f"spec.required[{index}]", problems)
        if name and name in names:
            problems.append(f"spec.required[{index}]: duplicate metric {name!r}")
        elif name:
            names.append(name)
    return tuple(names)


def _thresholds(value: Any, problems: list[str]) -> tuple[Threshold, ...]:
    found: list[Threshold] = []
    for index, item in enumerate(_list(value, "spec.thresholds", problems)):
        path = f"spec.thresholds[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{path}: expected a mapping {{metric, min and/or max}}")
            continue
        unknown_fields(item, {"metric", "min", "max"}, f"{path}.", problems)
        metric = _string(item.get("metric"), f"{path}.metric", problems)
        low = _bound(item, "min", path, problems)
        high = _bound(item, "max", path, problems)
        if "min" not in item and "max" not in item:
            problems.append(f"{path}: needs min, max or both")
        if low is not None and high is not None and low > high:
            problems.append(f"{path}: min {item['min']!r} is greater than max {item['max']!r}")
        found.append(Threshold(metric, low, high))
    return tuple(found)


def _bound(item: dict[str, Any], key: str, path: str, problems: list[str]) -> Decimal | None:
    if key not in item:
        return None
    parsed = number(item[key])
    if parsed is None:
        problems.append(f"{path}.{key}: expected a number, got {item[key]!r}")
    return parsed


def _fairness(value: Any, problems: list[str]) -> tuple[Fairness, ...]:
    found: list[Fairness] = []
    for index, item in enumerate(_list(value, "spec.fairness", problems)):
        path = f"spec.fairness[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{path}: expected a mapping {{metric, maxGap}}")
            continue
        unknown_fields(item, {"metric", "maxGap"}, f"{path}.", problems)
        metric = _string(item.get("metric"), f"{path}.metric", problems)
        if "maxGap" not in item:
            problems.append(f"{path}.maxGap: required")
            continue
        gap = _non_negative(item["maxGap"], f"{path}.maxGap", problems)
        if gap is not None:
            found.append(Fairness(metric, gap))
    return tuple(found)


def _latency(value: Any, problems: list[str]) -> Latency | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append("spec.latency: expected a mapping {metric, max}")
        return None
    unknown_fields(value, {"metric", "max"}, "spec.latency.", problems)
    metric = _string(value.get("metric", DEFAULT_LATENCY_METRIC), "spec.latency.metric", problems)
    if "max" not in value:
        problems.append("spec.latency.max: required (milliseconds)")
        return None
    ceiling = _non_negative(value["max"], "spec.latency.max", problems)
    return Latency(metric, ceiling) if ceiling is not None else None
