"""Katib's status rules: best-trial walk, completion order, counters and the status shape."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.tuning import experiment as experiments
from appliance.tuning import metrics
from appliance.tuning.metrics import MetricLog
from appliance.tuning.status import (
    FAILED,
    METRICS_UNAVAILABLE,
    SUCCEEDED,
    Conditions,
    TrialRecord,
    decide,
    experiment_status,
    summarize,
)


def exp(kit: Any, type_: str = "maximize", goal: float | None = None, **spec: Any) -> Any:
    objective: dict[str, Any] = {"type": type_, "objectiveMetricName": "accuracy"}
    if goal is not None:
        objective["goal"] = goal
    return experiments.parse(kit.manifest(objective=objective, **spec))


def trial(experiment: Any, name: str, value: str | None, state: str = SUCCEEDED) -> TrialRecord:
    record = TrialRecord(name, 0, (("x", "0.5"),), {})
    record.mark_running()
    if value is not None:
        record.logs = [MetricLog("accuracy", value)]
        record.observation = metrics.observation(record.logs, experiment.objective)
    record.finish(state, "r", "m")
    return record


def test_best_walks_trials_by_name_and_ties_keep_the_first(kit: Any) -> None:
    e = exp(kit)
    trials = [trial(e, "exp-c", "0.9"), trial(e, "exp-a", "0.9"), trial(e, "exp-b", "0.5")]
    summary = summarize(trials, e)
    assert summary.best is not None and summary.best.name == "exp-a"
    assert summary.lists[SUCCEEDED] == ["exp-a", "exp-b", "exp-c"]


def test_minimize_takes_strictly_lower_values(kit: Any) -> None:
    e = exp(kit, "minimize", args=["--print=accuracy=${trialParameters.x}"])
    summary = summarize([trial(e, "t-b", "0.2"), trial(e, "t-a", "0.3"), trial(e, "t-c", "0.2")], e)
    assert summary.best is not None and summary.best.name == "t-b"


def test_a_non_numeric_objective_becomes_best_and_the_goal_compares_a_zero(kit: Any) -> None:
    # Katib quirk: the string value takes the best slot without setting the best value (0), so a
    # later numeric trial that is not below 0 does not replace it, and the goal test sees 0.
    e = exp(kit, "minimize", goal=0.1)
    summary = summarize([trial(e, "t-a", "n/a"), trial(e, "t-b", "0.5")], e)
    assert summary.best is not None and summary.best.name == "t-a"
    assert summary.goal_reached
    assert decide(summary, e) == (SUCCEEDED, "ExperimentGoalReached",
                                  "Experiment has succeeded because Objective goal has reached")


def test_goal_is_decided_before_the_trial_budget(kit: Any) -> None:
    e = exp(kit, goal=0.8, maxTrialCount=2)
    summary = summarize([trial(e, "t-a", "0.9"), trial(e, "t-b", "0.1")], e)
    assert summary.completed == 2 and summary.goal_reached
    assert decide(summary, e)[1] == "ExperimentGoalReached"
    below = summarize([trial(e, "t-a", "0.7"), trial(e, "t-b", "0.1")], e)
    assert decide(below, e)[1] == "ExperimentMaxTrialsReached"


def test_the_failure_budget_counts_metrics_unavailable_and_comes_before_the_trial_budget(kit: Any) -> None:
    e = exp(kit, maxTrialCount=3, maxFailedTrialCount=2)
    summary = summarize([trial(e, "t-a", None, FAILED), trial(e, "t-b", "unavailable", METRICS_UNAVAILABLE),
                         trial(e, "t-c", "0.5")], e)
    assert (summary.failed, summary.completed) == (2, 3)
    assert decide(summary, e) == (FAILED, "ExperimentFailed",
                                  "Experiment has failed because max failed count has reached")


def test_zero_max_failed_fails_on_the_first_failure_only(kit: Any) -> None:
    e = exp(kit, maxTrialCount=3, maxFailedTrialCount=0)
    assert decide(summarize([trial(e, "t-a", "0.5")], e), e) is None
    assert decide(summarize([trial(e, "t-a", None, FAILED)], e), e)[1] == "ExperimentFailed"


def test_running_trials_are_neither_completed_nor_failed(kit: Any) -> None:
    e = exp(kit, maxTrialCount=2)
    running = TrialRecord("t-b", 1, (("x", "0.1"),), {})
    running.mark_running()
    summary = summarize([trial(e, "t-a", "0.5"), running], e)
    assert (summary.completed, summary.active) == (1, 1)
    assert decide(summary, e) is None


def test_status_shape_omits_zero_counters_and_empty_lists(kit: Any) -> None:
    e = exp(kit)
    conditions = Conditions()
    conditions.set("Created", "True", "ExperimentCreated", "Experiment is created")
    empty = experiment_status(conditions, summarize([], e), "2024-01-01T00:00:00Z", "")
    assert empty["currentOptimalTrial"] == {"observation": {}}
    assert not any(key.endswith("List") or key.startswith("trial") for key in empty)
    best = trial(e, "t-a", "0.9")
    status = experiment_status(conditions, summarize([best, trial(e, "t-b", None, FAILED)], e),
                               "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z")
    assert status["currentOptimalTrial"] == {
        "bestTrialName": "t-a",
        "parameterAssignments": [{"name": "x", "value": "0.5"}],
        "observation": {"metrics": [{"name": "accuracy", "min": "0.9", "max": "0.9", "latest": "0.9"}]},
    }
    assert {k: v for k, v in status.items() if k.endswith("List") or k.startswith("trial")} == {
        "failedTrialList": ["t-b"], "succeededTrialList": ["t-a"],
        "trials": 2, "trialsFailed": 1, "trialsSucceeded": 1,
    }
    assert status["completionTime"] == "2024-01-01T00:01:00Z"


def test_conditions_keep_transition_times_and_flip_running(kit: Any) -> None:
    record = TrialRecord("t", 0, (), {})
    record.mark_running()
    record.finish(SUCCEEDED, "TrialSucceeded", "Trial has succeeded")
    kinds = [(c["type"], c["status"], c["reason"]) for c in record.conditions.items]
    assert kinds == [("Created", "True", "TrialCreated"), ("Running", "False", "TrialRunning"),
                     ("Succeeded", "True", "TrialSucceeded")]
    assert record.state == SUCCEEDED and record.completed


@pytest.mark.parametrize(("states", "expected"), [
    (["Running", "Failed"], "Failed"),
    (["Running", "Succeeded", "EarlyStopped"], "Succeeded"),
    (["Running", "MetricsUnavailable", "EarlyStopped"], "EarlyStopped"),
])
def test_state_priority(states: list[str], expected: str) -> None:
    record = TrialRecord("t", 0, (), {})
    for kind in states:
        record.conditions.set(kind, "True", "", "")
    assert record.state == expected
