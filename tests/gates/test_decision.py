"""Exact gate decisions: a table of challengers against champions under the documented policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.gates import decision, policy

POLICY = policy.load(Path(__file__).parent / "default-policy.yaml")


def metrics(accuracy: float | None, a: float = 0.9, b: float = 0.9, latency: float = 10) -> dict:
    data: dict = {"latency_p99_ms": latency, "groups": {"a": {"accuracy": a}, "b": {"accuracy": b}}}
    if accuracy is not None:
        data["accuracy"] = accuracy
    return data


def verdicts(result: decision.Decision) -> list[tuple[str, str, str]]:
    return [(r.rule, r.metric, r.verdict) for r in result.rules]


ABSOLUTE_PASS = [
    ("required", "accuracy", "pass"),
    ("threshold", "accuracy", "pass"),
    ("threshold", "latency_p99_ms", "pass"),
    ("fairness", "accuracy", "pass"),
]

CASES = {
    # name: (challenger, champion, promote, the verdict of the rule that decides)
    "worse": (metrics(0.85), {"accuracy": 0.90}, False, ("improvement", "accuracy", "fail")),
    "equal": (metrics(0.90), {"accuracy": 0.90}, False, ("improvement", "accuracy", "fail")),
    "better within margin": (
        metrics(0.905), {"accuracy": 0.90}, False, ("improvement", "accuracy", "fail")),
    "better exactly by margin": (
        metrics(0.91), {"accuracy": 0.90}, True, ("improvement", "accuracy", "pass")),
    # 0.82 - 0.81 is 0.009999999999999898 in binary floats: the boundary still holds.
    "margin boundary in binary-unfriendly decimals": (
        metrics(0.82), {"accuracy": 0.81}, True,
        ("improvement", "accuracy", "pass")),
    "better beyond margin": (
        metrics(0.95), {"accuracy": 0.90}, True, ("improvement", "accuracy", "pass")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_champion(name: str) -> None:
    challenger, champion, promote, deciding = CASES[name]
    result = decision.evaluate(POLICY, challenger, champion)
    assert verdicts(result) == [*ABSOLUTE_PASS, deciding]
    assert result.promote is promote


def test_no_champion_applies_only_absolute_rules() -> None:
    result = decision.evaluate(POLICY, metrics(0.80), None)
    assert verdicts(result) == ABSOLUTE_PASS
    assert result.promote is True
    assert result.rules[1].detail == "accuracy 0.8 >= min 0.8"


def test_floor_boundary_is_inclusive_and_below_fails() -> None:
    assert decision.evaluate(POLICY, metrics(0.80)).promote is True
    below = decision.evaluate(POLICY, metrics(0.7999))
    assert below.promote is False
    assert [(r.rule, r.metric) for r in below.failed] == [("threshold", "accuracy")]
    assert below.failed[0].inputs == {"value": 0.7999}
    assert below.failed[0].threshold == {"min": 0.8}


def test_latency_ceiling_boundary() -> None:
    assert decision.evaluate(POLICY, metrics(0.9, latency=50)).promote is True
    slow = decision.evaluate(POLICY, metrics(0.9, latency=50.5))
    assert [(r.rule, r.metric, r.detail) for r in slow.failed] == [
        ("threshold", "latency_p99_ms", "latency_p99_ms 50.5 violates <= max 50")
    ]


def test_unfair_model_is_rejected_even_when_better() -> None:
    result = decision.evaluate(POLICY, metrics(0.95, a=0.99, b=0.93), {"accuracy": 0.90})
    assert result.promote is False
    (failed,) = result.failed
    assert (failed.rule, failed.metric) == ("fairness", "accuracy")
    assert failed.inputs == {"a": 0.99, "b": 0.93, "gap": 0.06}
    assert failed.detail == "gap 0.06 between a (0.99) and b (0.93) exceeds maxGap 0.05"


def test_fairness_gap_exactly_max_gap_passes() -> None:
    assert 0.93 - 0.88 > 0.05  # in binary floats; the decimal gap is exactly maxGap
    result = decision.evaluate(POLICY, metrics(0.9, a=0.93, b=0.88))
    assert result.promote is True
    assert result.rules[3].inputs["gap"] == 0.05


def test_fairness_with_equal_groups_says_so() -> None:
    result = decision.evaluate(POLICY, metrics(0.95, a=0.95, b=0.95))
    fairness = result.rules[3]
    assert (fairness.rule, fairness.verdict) == ("fairness", "pass")
    assert fairness.inputs == {"a": 0.95, "b": 0.95, "gap": 0}
    assert fairness.detail == "gap 0: all 2 groups have accuracy 0.95 <= maxGap 0.05"


def test_fairness_names_two_distinct_groups_when_some_tie() -> None:
    challenger = {"accuracy": 0.95, "latency_p99_ms": 10,
                  "groups": {"a": {"accuracy": 0.95}, "b": {"accuracy": 0.95},
                             "c": {"accuracy": 0.92}}}
    fairness = decision.evaluate(POLICY, challenger).rules[3]
    assert fairness.detail == "gap 0.03 between a (0.95) and c (0.92) <= maxGap 0.05"


def test_missing_required_metric_is_a_rejection_naming_the_metric() -> None:
    result = decision.evaluate(POLICY, metrics(None), {"accuracy": 0.9})
    assert result.promote is False
    assert [(r.rule, r.metric, r.detail) for r in result.failed] == [
        ("required", "accuracy", "accuracy is missing"),
        ("threshold", "accuracy", "accuracy is missing"),
        ("improvement", "accuracy", "challenger has no accuracy"),
    ]


def test_groups_missing_fail_fairness() -> None:
    result = decision.evaluate(POLICY, {"accuracy": 0.9, "latency_p99_ms": 1})
    assert [(r.rule, r.detail) for r in result.failed] == [
        ("fairness", "fairness needs accuracy for at least two groups, found 0")
    ]


def test_minimize_direction() -> None:
    lower = policy.loads(
        "apiVersion: appliance.dev/v1alpha1\nkind: GatePolicy\nmetadata: {name: loss}\n"
        "spec: {primaryMetric: loss, direction: minimize, minImprovement: 0.1}\n"
    )
    assert decision.evaluate(lower, {"loss": 0.4}, {"loss": 0.5}).promote is True
    assert decision.evaluate(lower, {"loss": 0.41}, {"loss": 0.5}).promote is False
    assert decision.evaluate(lower, {"loss": 0.6}, {"loss": 0.5}).promote is False


def test_latency_rule_form() -> None:
    ceiling = policy.loads(
        "apiVersion: appliance.dev/v1alpha1\nkind: GatePolicy\nmetadata: {name: fast}\n"
        "spec: {primaryMetric: accuracy, latency: {max: 20}}\n"
    )
    result = decision.evaluate(ceiling, {"accuracy": 1, "latency_p99_ms": 21})
    assert [(r.rule, r.metric, r.verdict) for r in result.rules] == [
        ("latency", "latency_p99_ms", "fail")
    ]


def test_decision_json_contract() -> None:
    result = decision.evaluate(POLICY, metrics(0.95), {"accuracy": 0.9})
    data = result.to_dict()
    assert data["promote"] is True
    assert data["rules"][-1] == {
        "rule": "improvement",
        "metric": "accuracy",
        "verdict": "pass",
        "detail": "improves accuracy by 0.05 (maximize; 0.9 -> 0.95), >= minImprovement 0.01",
        "inputs": {"challenger": 0.95, "champion": 0.9, "delta": 0.05},
        "threshold": {"minImprovement": 0.01},
    }
    assert decision.Decision.from_dict(data) == result
