"""Katib-shaped status: trial conditions, the experiment's counters, best trial and completion rule."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from appliance.tuning import metrics
from appliance.tuning.earlystopping import StopRule
from appliance.tuning.metrics import MetricLog
from appliance.tuning.model import MAXIMIZE, MINIMIZE, UNAVAILABLE, Experiment

LABEL_EXPERIMENT = "katib.kubeflow.org/experiment"

# Trial states, in the priority Katib uses when it counts them (updateTrialsSummary).
KILLED = "Killed"
FAILED = "Failed"
SUCCEEDED = "Succeeded"
EARLY_STOPPED = "EarlyStopped"
RUNNING = "Running"
METRICS_UNAVAILABLE = "MetricsUnavailable"
PENDING = "Pending"

# Experiment condition reasons and messages (pkg/controller.v1beta1/experiment/util/status_util.go).
CREATED_REASON = "ExperimentCreated"
RUNNING_REASON = "ExperimentRunning"
GOAL_REACHED = "ExperimentGoalReached"
MAX_TRIALS_REACHED = "ExperimentMaxTrialsReached"
FAILED_REASON = "ExperimentFailed"
MESSAGES = {
    CREATED_REASON: "Experiment is created",
    RUNNING_REASON: "Experiment is running",
    GOAL_REACHED: "Experiment has succeeded because Objective goal has reached",
    MAX_TRIALS_REACHED: "Experiment has succeeded because max trial count has reached",
}
MAX_FAILED_MESSAGE = "Experiment has failed because max failed count has reached"
SUGGESTION_FAILED_MESSAGE = "Suggestion has failed"


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Conditions:
    """A Kubernetes-style condition list: one entry per type, transition times kept honest."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def set(self, kind: str, status: str, reason: str, message: str) -> None:
        now = timestamp()
        for item in self.items:
            if item["type"] == kind:
                if item["status"] != status:
                    item["lastTransitionTime"] = now
                item.update(status=status, reason=reason, message=message, lastUpdateTime=now)
                return
        self.items.append({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": now,
        })

    def get(self, kind: str) -> dict[str, str] | None:
        return next((item for item in self.items if item["type"] == kind), None)

    def is_true(self, kind: str) -> bool:
        item = self.get(kind)
        return item is not None and item["status"] == "True"

    def falsify(self, kind: str) -> None:
        """Katib flips Running to False on completion, keeping its old reason and message."""
        item = self.get(kind)
        if item is not None and item["status"] != "False":
            self.set(kind, "False", item["reason"], item["message"])


@dataclass
class TrialRecord:
    """One Katib Trial: assignments, rules, the rendered Job, and its lifecycle."""

    name: str
    index: int
    assignments: tuple[tuple[str, str], ...]
    run_spec: dict[str, Any]
    rules: tuple[StopRule, ...] = ()
    suggestion: int = -1  # the Optuna trial number this trial was asked as
    conditions: Conditions = field(default_factory=Conditions)
    logs: list[MetricLog] = field(default_factory=list)
    observation: list[dict[str, str]] | None = None
    start_time: str = ""
    completion_time: str = ""
    log_path: str = ""

    def __post_init__(self) -> None:
        if not self.conditions.items:
            self.conditions.set("Created", "True", "TrialCreated", "Trial is created")
            self.start_time = timestamp()

    @property
    def state(self) -> str:
        for kind in (KILLED, FAILED, SUCCEEDED, EARLY_STOPPED, RUNNING, METRICS_UNAVAILABLE):
            if self.conditions.is_true(kind):
                return kind
        return PENDING

    @property
    def completed(self) -> bool:
        return self.state in (KILLED, FAILED, SUCCEEDED, EARLY_STOPPED, METRICS_UNAVAILABLE)

    def mark_running(self) -> None:
        self.conditions.set(RUNNING, "True", "TrialRunning", "Trial is running")

    def finish(self, kind: str, reason: str, message: str) -> None:
        self.conditions.falsify(RUNNING)
        self.conditions.set(kind, "True", reason, message)
        self.completion_time = timestamp()

    def objective_value(self, experiment: Experiment) -> str:
        return metrics.objective_value(self.observation, experiment.objective)

    def to_dict(self, experiment: Experiment) -> dict[str, Any]:
        """The Trial object as `kubectl get trial -o yaml` would show it."""
        spec_src = experiment.manifest["spec"]
        trial_spec: dict[str, Any] = {
            "objective": copy.deepcopy(spec_src["objective"]),
            "parameterAssignments": [{"name": n, "value": v} for n, v in self.assignments],
            "primaryContainerName": experiment.primary_container,
            "successCondition": spec_src["trialTemplate"]["successCondition"],
            "failureCondition": spec_src["trialTemplate"]["failureCondition"],
            "metricsCollector": copy.deepcopy(spec_src["metricsCollectorSpec"]),
            "runSpec": copy.deepcopy(self.run_spec),
        }
        if self.rules:
            trial_spec["earlyStoppingRules"] = [rule.to_dict() for rule in self.rules]
        status: dict[str, Any] = {"startTime": self.start_time}
        if self.completion_time:
            status["completionTime"] = self.completion_time
        status["conditions"] = copy.deepcopy(self.conditions.items)
        if self.observation is not None:
            status["observation"] = {"metrics": copy.deepcopy(self.observation)}
        return {
            "apiVersion": experiment.manifest["apiVersion"],
            "kind": "Trial",
            "metadata": {
                "name": self.name,
                "namespace": experiment.namespace,
                "labels": {LABEL_EXPERIMENT: experiment.name},
            },
            "spec": trial_spec,
            "status": status,
        }


LIST_FIELDS = {
    RUNNING: ("runningTrialList", "trialsRunning"),
    PENDING: ("pendingTrialList", "trialsPending"),
    FAILED: ("failedTrialList", "trialsFailed"),
    SUCCEEDED: ("succeededTrialList", "trialsSucceeded"),
    KILLED: ("killedTrialList", "trialsKilled"),
    EARLY_STOPPED: ("earlyStoppedTrialList", "trialsEarlyStopped"),
    METRICS_UNAVAILABLE: ("metricsUnavailableTrialList", "trialMetricsUnavailable"),
}


@dataclass
class Summary:
    """updateTrialsSummary's result: names per state, the best trial, and whether the goal is met."""

    lists: dict[str, list[str]]
    best: TrialRecord | None
    goal_reached: bool

    def count(self, state: str) -> int:
        return len(self.lists[state])

    @property
    def total(self) -> int:
        return sum(len(names) for names in self.lists.values())

    @property
    def completed(self) -> int:
        return sum(self.count(s) for s in (SUCCEEDED, FAILED, KILLED, EARLY_STOPPED,
                                           METRICS_UNAVAILABLE))

    @property
    def failed(self) -> int:
        return self.count(FAILED) + self.count(METRICS_UNAVAILABLE)

    @property
    def active(self) -> int:
        return self.count(PENDING) + self.count(RUNNING)


def summarize(trials: Sequence[TrialRecord], experiment: Experiment) -> Summary:
    """A port of Katib's updateTrialsSummary, quirks included.

    Trials are walked in Kubernetes list order (by name). The first numeric objective seeds the
    best; later values replace it only when strictly better. A non-numeric objective string makes
    its trial the best unconditionally without touching the best value, and the goal test uses
    that best value, which starts at 0.
    """
    lists: dict[str, list[str]] = {state: [] for state in LIST_FIELDS}
    objective = experiment.objective
    goal = objective.goal if objective.goal is not None else 0.0
    best_value = 0.0
    best: TrialRecord | None = None
    goal_reached = False
    for trial in sorted(trials, key=lambda t: t.name):
        lists[trial.state].append(trial.name)
        text = trial.objective_value(experiment)
        if text == UNAVAILABLE:
            continue
        value = metrics.go_float(text)
        if value is None:
            best = trial
            continue
        if best is None:
            best_value, best = value, trial
        if objective.type == MINIMIZE:
            if value < best_value:
                best_value, best = value, trial
            if objective.goal is not None and best_value <= goal:
                goal_reached = True
        elif objective.type == MAXIMIZE:
            if value > best_value:
                best_value, best = value, trial
            if objective.goal is not None and best_value >= goal:
                goal_reached = True
    return Summary(lists, best, goal_reached)


def decide(summary: Summary, experiment: Experiment) -> tuple[str, str, str] | None:
    """UpdateExperimentStatusCondition, first match wins: (type, reason, message) or None (running)."""
    if summary.goal_reached:
        return SUCCEEDED, GOAL_REACHED, MESSAGES[GOAL_REACHED]
    max_failed = experiment.max_failed_trial_count
    if max_failed is not None and summary.failed != 0 and summary.failed >= max_failed:
        return FAILED, FAILED_REASON, MAX_FAILED_MESSAGE
    if experiment.max_trial_count is not None and summary.completed >= experiment.max_trial_count:
        return SUCCEEDED, MAX_TRIALS_REACHED, MESSAGES[MAX_TRIALS_REACHED]
    return None


def experiment_status(
    conditions: Conditions,
    summary: Summary,
    start_time: str,
    completion_time: str,
) -> dict[str, Any]:
    """The Experiment's status block (Katib omits empty lists and zero counters)."""
    status: dict[str, Any] = {"startTime": start_time}
    if completion_time:
        status["completionTime"] = completion_time
    status["lastReconcileTime"] = timestamp()
    status["conditions"] = copy.deepcopy(conditions.items)
    optimal: dict[str, Any] = {"observation": {}}
    if summary.best is not None:
        optimal = {
            "bestTrialName": summary.best.name,
            "parameterAssignments": [
                {"name": n, "value": v} for n, v in summary.best.assignments
            ],
            "observation": (
                {"metrics": copy.deepcopy(summary.best.observation)}
                if summary.best.observation else {}
            ),
        }
    status["currentOptimalTrial"] = optimal
    for state, (list_field, _) in LIST_FIELDS.items():
        if summary.lists[state]:
            status[list_field] = list(summary.lists[state])
    if summary.total:
        status["trials"] = summary.total
    for state, (_, count_field) in LIST_FIELDS.items():
        if summary.lists[state]:
            status[count_field] = len(summary.lists[state])
    return status
