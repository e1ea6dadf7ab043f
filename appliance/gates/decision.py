"""The gate decision: a pure function of a policy, the challenger's and the champion's metrics."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from appliance.gates.metrics import Metrics, decode, plain
from appliance.gates.policy import Policy

PASS = "pass"
FAIL = "fail"

Number = int | float


@dataclass(frozen=True)
class RuleResult:
    """One rule applied: its inputs, its threshold, the verdict and a one-line reason."""

    rule: str
    metric: str
    verdict: str
    detail: str
    inputs: dict[str, Number | None] = field(default_factory=dict)
    threshold: dict[str, Number] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "verdict": self.verdict,
            "detail": self.detail,
            "inputs": dict(self.inputs),
            "threshold": dict(self.threshold),
        }


@dataclass(frozen=True)
class Decision:
    """Promote or not, with every rule. `champion_revision` says which registry champion the
    challenger was compared with (None: no champion); the registry refuses a stale decision."""

    promote: bool
    policy: str
    rules: tuple[RuleResult, ...]
    champion_revision: int | None = None
    id: str | None = None

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.passed)

    def bound_to(self, champion_revision: int | None, id: str | None = None) -> Decision:
        return replace(self, champion_revision=champion_revision, id=id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "policy": self.policy,
            "champion_revision": self.champion_revision,
            "id": self.id,
            "rules": [r.to_dict() for r in self.rules],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        rules = tuple(
            RuleResult(
                rule=str(r["rule"]),
                metric=str(r["metric"]),
                verdict=str(r["verdict"]),
                detail=str(r["detail"]),
                inputs=dict(r.get("inputs") or {}),
                threshold=dict(r.get("threshold") or {}),
            )
            for r in data.get("rules", [])
        )
        revision = data.get("champion_revision")
        return cls(
            promote=bool(data["promote"]),
            policy=str(data.get("policy", "")),
            rules=rules,
            champion_revision=None if revision is None else int(revision),
            id=data.get("id"),
        )


def evaluate(
    policy: Policy,
    challenger: Metrics | dict[str, Any],
    champion: Metrics | dict[str, Any] | None = None,
) -> Decision:
    """Apply every rule of the policy. Without a champion only the absolute rules apply."""
    new = decode(challenger, "challenger")
    old = None if champion is None else decode(champion, "champion")
    rules: list[RuleResult] = []
    rules += [_required(metric, new) for metric in policy.required]
    for threshold in policy.thresholds:
        if threshold.min is not None:
            rules.append(_bound("min", threshold.metric, new, threshold.min))
        if threshold.max is not None:
            rules.append(_bound("max", threshold.metric, new, threshold.max))
    if policy.latency is not None:
        rules.append(_bound("max", policy.latency.metric, new, policy.latency.max, "latency"))
    rules += [_fairness(f.metric, f.max_gap, new) for f in policy.fairness]
    if old is not None:
        rules.append(_improvement(policy, new, old))
    return Decision(all(r.passed for r in rules), policy.name, tuple(rules))


def _n(value: Decimal | None) -> Number | None:
    return None if value is None else plain(value)


def _verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def _required(metric: str, new: Metrics) -> RuleResult:
    value = new.get(metric)
    detail = f"{metric} = {_n(value)}" if value is not None else f"{metric} is missing"
    return RuleResult("required", metric, _verdict(value is not None), detail, {"value": _n(value)})


def _bound(kind: str, metric: str, new: Metrics, limit: Decimal, rule: str = "threshold") -> RuleResult:
    value = new.get(metric)
    threshold = {kind: plain(limit)}
    if value is None:
        return RuleResult(rule, metric, FAIL, f"{metric} is missing", {"value": None}, threshold)
    ok = value >= limit if kind == "min" else value <= limit
    sign = ">=" if kind == "min" else "<="
    detail = f"{metric} {_n(value)} {sign if ok else 'violates ' + sign} {kind} {plain(limit)}"
    return RuleResult(rule, metric, _verdict(ok), detail, {"value": _n(value)}, threshold)


def _fairness(metric: str, max_gap: Decimal, new: Metrics) -> RuleResult:
    threshold = {"maxGap": plain(max_gap)}
    per_group = {g: vals.get(metric) for g, vals in sorted(new.groups.items())}
    inputs: dict[str, Number | None] = {g: _n(v) for g, v in per_group.items()}
    lacking = [g for g, v in per_group.items() if v is None]
    if lacking:
        detail = f"groups without {metric}: {', '.join(lacking)}"
        return RuleResult("fairness", metric, FAIL, detail, inputs, threshold)
    values = {g: v for g, v in per_group.items() if v is not None}
    if len(values) < 2:
        detail = f"fairness needs {metric} for at least two groups, found {len(values)}"
        return RuleResult("fairness", metric, FAIL, detail, inputs, threshold)
    best = max(values, key=lambda g: values[g])
    worst = min(values, key=lambda g: values[g])
    gap = values[best] - values[worst]
    ok = gap <= max_gap
    if gap == 0:
        # max and min would name the same group: there is no pair to point at.
        detail = (f"gap 0: all {len(values)} groups have {metric} {plain(values[best])} "
                  f"{'<=' if ok else 'exceeds'} maxGap {plain(max_gap)}")
    else:
        detail = (
            f"gap {plain(gap)} between {best} ({plain(values[best])}) and {worst} "
            f"({plain(values[worst])}) {'<=' if ok else 'exceeds'} maxGap {plain(max_gap)}"
        )
    return RuleResult("fairness", metric, _verdict(ok), detail, {**inputs, "gap": plain(gap)},
                      threshold)


def _improvement(policy: Policy, new: Metrics, old: Metrics) -> RuleResult:
    metric = policy.primary_metric
    challenger, champion = new.get(metric), old.get(metric)
    inputs = {"challenger": _n(challenger), "champion": _n(champion)}
    threshold = {"minImprovement": plain(policy.min_improvement)}
    if challenger is None or champion is None:
        who = "challenger" if challenger is None else "champion"
        return RuleResult("improvement", metric, FAIL, f"{who} has no {metric}", inputs, threshold)
    # Improvement is measured in the policy's direction: lower is better when minimizing.
    delta = challenger - champion if policy.direction == "maximize" else champion - challenger
    ok = delta >= policy.min_improvement
    detail = (
        f"{'improves' if delta > 0 else 'changes'} {metric} by {plain(delta)} "
        f"({policy.direction}; {plain(champion)} -> {plain(challenger)}), "
        f"{'>=' if ok else 'below'} minImprovement {plain(policy.min_improvement)}"
    )
    return RuleResult("improvement", metric, _verdict(ok), detail, {**inputs, "delta": plain(delta)},
                      threshold)
