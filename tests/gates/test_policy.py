"""Strict decoding of gate policies and metrics files: every problem reported with its path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from appliance.errors import BadInput, InvalidDocument
from appliance.gates import metrics, policy


def test_contract_example_decodes() -> None:
    decoded = policy.load(Path(__file__).parent / "default-policy.yaml")
    assert decoded == policy.Policy(
        name="default",
        primary_metric="accuracy",
        direction="maximize",
        min_improvement=Decimal("0.01"),
        required=("accuracy",),
        thresholds=(
            policy.Threshold("accuracy", min=Decimal("0.8")),
            policy.Threshold("latency_p99_ms", max=Decimal("50")),
        ),
        fairness=(policy.Fairness("accuracy", Decimal("0.05")),),
    )


def test_every_problem_is_reported_with_its_path() -> None:
    with pytest.raises(InvalidDocument) as caught:
        policy.loads(
            """
apiVersion: appliance.dev/v1beta9
kind: GatePolicy
metadata: {name: x, owner: me}
spec:
  primaryMetric: 3
  direction: upwards
  minImprovement: -0.1
  required: [accuracy, accuracy, ""]
  thresholds:
    - {metric: accuracy, min: 0.9, max: 0.8}
    - {metric: latency, max: fast}
    - {metric: loss}
  fairness:
    - {metric: accuracy}
    - {metric: accuracy, maxGap: true}
  latency: {max: -1}
  retries: 3
"""
        )
    assert caught.value.problems == [
        "apiVersion: expected 'appliance.dev/v1alpha1', got 'appliance.dev/v1beta9'",
        "metadata.owner: unknown field",
        "spec.retries: unknown field",
        "spec.primaryMetric: required non-empty string, got 3",
        "spec.direction: expected one of maximize, minimize, got 'upwards'",
        "spec.minImprovement: must be >= 0, got -0.1",
        "spec.required[1]: duplicate metric 'accuracy'",
        "spec.required[2]: required non-empty string, got ''",
        "spec.thresholds[0]: min 0.9 is greater than max 0.8",
        "spec.thresholds[1].max: expected a number, got 'fast'",
        "spec.thresholds[2]: needs min, max or both",
        "spec.fairness[0].maxGap: required",
        "spec.fairness[1].maxGap: expected a number, got True",
        "spec.latency.max: must be >= 0, got -1",
    ]
    assert caught.value.exit_code == 2


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("spec: [unclosed\n")
    with pytest.raises(BadInput, match=r"p.yaml is not valid YAML"):
        policy.load(bad)
    with pytest.raises(BadInput, match=r"policy file .*nope.yaml not found"):
        policy.load(tmp_path / "nope.yaml")
    with pytest.raises(InvalidDocument) as caught:
        policy.loads("- a list\n", "list.yaml")
    assert caught.value.problems == ["document: expected a mapping (a GatePolicy)"]


def test_metrics_decode() -> None:
    decoded = metrics.loads(
        '{"accuracy": 0.91, "latency_p99_ms": 12, "groups": {"a": {"accuracy": 0.93}}}'
    )
    assert decoded.values == {"accuracy": Decimal("0.91"), "latency_p99_ms": Decimal(12)}
    assert decoded.groups == {"a": {"accuracy": Decimal("0.93")}}
    assert decoded.to_dict() == {
        "accuracy": 0.91, "latency_p99_ms": 12, "groups": {"a": {"accuracy": 0.93}}
    }


def test_metrics_problems(tmp_path: Path) -> None:
    with pytest.raises(InvalidDocument) as caught:
        metrics.loads('{"accuracy": "0.9", "ok": true, "groups": {"a": {"accuracy": null}, '
                      '"b": 3}}', "m.json")
    assert caught.value.problems == [
        "accuracy: expected a number, got '0.9'",
        "ok: expected a number, got True",
        "groups.a.accuracy: expected a number, got None",
        "groups.b: expected an object of metrics",
    ]
    path = tmp_path / "m.json"
    path.write_text("accuracy=0.9")
    with pytest.raises(BadInput, match=r"m.json is not JSON"):
        metrics.load(path)
    with pytest.raises(BadInput, match=r"metrics file .*absent.json not found"):
        metrics.load(tmp_path / "absent.json")
