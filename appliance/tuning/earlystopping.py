"""Katib's medianstop early stopping: rule computation (a mean, despite the name) and the sidecar check."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.tuning.metrics import MetricLog, go_float, ordered, text_matches
from appliance.tuning.model import MAXIMIZE, MINIMIZE, Algorithm, Objective

ALGORITHMS = ("medianstop",)
DEFAULT_MIN_TRIALS_REQUIRED = 3
DEFAULT_START_STEP = 4
LESS = "less"
GREATER = "greater"


@dataclass(frozen=True)
class StopRule:
    """spec.earlyStoppingRules[] of a Trial: stop when `name` compares to `value` at `start_step`."""

    name: str
    value: str
    comparison: str
    start_step: int

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "comparison": self.comparison,
            "startStep": self.start_step,
        }


def validate(spec: Algorithm, path: str = "spec.earlyStopping") -> list[str]:
    """Katib's medianstop service checks (ValidateEarlyStoppingSettings)."""
    if spec.name not in ALGORITHMS:
        return [
            f"{path}.algorithmName: unknown early stopping algorithm {spec.name!r} "
            f"(katib-config lists {', '.join(ALGORITHMS)})"
        ]
    problems = []
    for index, setting in enumerate(spec.settings):
        where = f"{path}.algorithmSettings[{index}]"
        if setting.name == "min_trials_required":
            minimum, requirement = 1, "must be greater than zero (>0)"
        elif setting.name == "start_step":
            minimum, requirement = 1, "must be greater or equal than one (>=1)"
        else:
            problems.append(f"{where}: unknown setting {setting.name} for algorithm medianstop")
            continue
        try:
            ok = int(setting.value) >= minimum
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{where}: {setting.name} {requirement} (got {setting.value!r})")
    return problems


class MedianStop:
    """The medianstop service: averages of the first start_step objective values of each new
    Succeeded trial; once min_trials_required exist, the rule's value is their *mean*."""

    def __init__(self, spec: Algorithm, objective: Objective) -> None:
        self.min_trials_required = int(
            spec.setting("min_trials_required") or DEFAULT_MIN_TRIALS_REQUIRED
        )
        self.start_step = int(spec.setting("start_step") or DEFAULT_START_STEP)
        self.objective = objective
        self.comparison = LESS if objective.type == MAXIMIZE else GREATER
        self._averages: dict[str, float] = {}

    def record_succeeded(self, trial_name: str, logs: Sequence[MetricLog]) -> None:
        if trial_name in self._averages:
            return
        values = [
            go_float(log.value) for log in ordered(logs) if log.name == self.objective.metric
        ][: self.start_step]
        numbers = [v for v in values if v is not None]
        if numbers:
            self._averages[trial_name] = sum(numbers) / len(numbers)

    def rules(self) -> list[StopRule]:
        """The rules a newly created trial gets (none until enough trials succeeded)."""
        if len(self._averages) < self.min_trials_required:
            return []
        mean = sum(self._averages.values()) / len(self._averages)
        return [StopRule(self.objective.metric, str(mean), self.comparison, self.start_step)]


class RuleWatcher:
    """The collector sidecar's check while the trial runs (file-metricscollector watchMetricsFile).

    The objective is compared by its best value so far. A rule's start_step counts reports of its
    metric down, and the rule is compared *only* on the report that brings the count to zero:
    Katib decrements on every report and skips whenever the count is non-zero, so after that
    report the count goes negative and the rule is never checked again. Reproduced as is.
    """

    def __init__(
        self,
        rules: Sequence[StopRule],
        objective: Objective,
        regexes: Sequence[re.Pattern[str]] = (),
        json_format: bool = False,
    ) -> None:
        self._rules = list(rules)
        self._objective = objective
        self._regexes = list(regexes)
        self._json = json_format
        self._countdown = {r.name: r.start_step for r in rules if r.start_step != 0}
        self._best: float | None = None
        self.stopped = False

    @property
    def active(self) -> bool:
        return bool(self._rules) and not self.stopped

    def feed_line(self, line: str) -> bool:
        """Process one line of output; True once every rule is satisfied (stop the trial)."""
        if not self.active:
            return self.stopped
        if self._json:
            reports = self._json_reports(line)
        else:
            if not any(rule.name in line for rule in self._rules):
                return False
            reports = []
            for name, text in text_matches(line, self._regexes):
                parsed = go_float(text)
                if parsed is not None:  # Katib's sidecar aborts on a non-float; we skip it
                    reports.append((name, parsed))
        for name, number in reports:
            for rule in list(self._rules):
                if rule.name == name:
                    self._update(rule, number)
        if not self._rules:
            self.stopped = True
        return self.stopped

    def _json_reports(self, line: str) -> list[tuple[str, float]]:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            return []
        if not isinstance(data, dict):
            return []
        reports = []
        for rule in self._rules:
            value = data.get(rule.name)
            if isinstance(value, str):
                parsed = go_float(value.strip())
                if parsed is not None:
                    reports.append((rule.name, parsed))
        return reports

    def _update(self, rule: StopRule, value: float) -> None:
        if rule.name == self._objective.metric:
            if self._best is None:
                self._best = value
            elif self._objective.type == MAXIMIZE and value > self._best:
                self._best = value
            elif self._objective.type == MINIMIZE and value < self._best:
                self._best = value
            value = self._best
        if rule.name in self._countdown:
            self._countdown[rule.name] -= 1
            if self._countdown[rule.name] != 0:
                return
        threshold = go_float(rule.value)
        if threshold is None:
            return
        if (
            (rule.comparison == "equal" and value == threshold)
            or (rule.comparison == LESS and value < threshold)
            or (rule.comparison == GREATER and value > threshold)
        ):
            self._rules.remove(rule)
