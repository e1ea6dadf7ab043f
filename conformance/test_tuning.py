"""Tuning: the reference Katib Experiment on the stub trainer ends ExperimentGoalReached at the
trainer's known optimum; an experiment whose trials fail ends ExperimentFailed at its budget."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from appliance.stack import Stack
from conformance.budgets import Budget
from conformance.experiments import DATASET, manifest
from conformance.instruments import store_dataset
from conformance.sandbox import ObjectStoreSandbox, TestScope
from stubs import train

pytestmark = [pytest.mark.conformance_area("tuning"), pytest.mark.requires_component("tuning")]


def experiment(name: str, object_store: ObjectStoreSandbox, scope: TestScope) -> dict[str, Any]:
    """A reference experiment reading the stub dataset from, and writing models to, this test's prefix."""
    # The dataset the reference experiments expect (name, rows, seed), in this test's prefix.
    dataset, rows, seed = DATASET["name"], DATASET["rows"], DATASET["seed"]
    assert isinstance(dataset, str) and isinstance(rows, int) and isinstance(seed, int)
    data = store_dataset(object_store, dataset, rows, seed)
    return manifest(name, data_uri=data.uri, output_prefix=object_store.uri("tuning"),
                    experiment_name=scope.name(name))


def assignments(trial: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["value"] for a in trial["parameterAssignments"]}


def observed(trial: dict[str, Any], metric: str) -> dict[str, Any]:
    [found] = [m for m in trial["observation"]["metrics"] if m["name"] == metric]
    return dict(found)


def test_reference_experiment_reaches_the_known_optimum(
    stack: Stack, object_store: ObjectStoreSandbox, conformance_scope: TestScope, budget: Budget
) -> None:
    spec = experiment("grid", object_store, conformance_scope)
    result = stack.tuning.run(spec, timeout=budget.experiment)
    status = result.document["status"]
    assert (result.condition["type"], result.condition["reason"]) == ("Succeeded", "ExperimentGoalReached")
    best = status["currentOptimalTrial"]
    lr, depth = assignments(best)["lr"], assignments(best)["depth"]
    # The stub trainer's one optimum (stubs/train.py): lr 0.01, depth 6 -> accuracy 0.95.
    assert math.isclose(float(lr), train.OPTIMUM["lr"], rel_tol=1e-9) and int(depth) == 6
    assert float(observed(best, "accuracy")["max"]) == train.BEST_ACCURACY == 0.95
    # A range on purpose: how many trials exist when the goal is reached is target-dependent.
    # With 3 trials in parallel, a cluster's Katib creates replacements as trials finish, in
    # whatever order they finish; only the local engine's in-order reconcile fixes the count
    # (exactly 7 there, pinned by tests/tuning/test_reference_experiments.py).
    assert status["trialsSucceeded"] == status["trials"] <= spec["spec"]["maxTrialCount"]
    assert status.get("trialsFailed", 0) == 0
    # The best trial's model is in the object store, declaring the optimum's accuracy.
    model = json.loads(object_store.get(f"tuning/{best['bestTrialName']}/model.json"))
    assert model["accuracy"] == 0.95


def test_failing_trials_end_the_experiment_at_its_failure_budget(
    stack: Stack, object_store: ObjectStoreSandbox, conformance_scope: TestScope, budget: Budget
) -> None:
    spec = experiment("failing", object_store, conformance_scope)
    failures, parallel = spec["spec"]["maxFailedTrialCount"], spec["spec"]["parallelTrialCount"]
    assert (failures, parallel) == (2, 2)
    result = stack.tuning.run(spec, timeout=budget.experiment)
    status = result.document["status"]
    assert (result.condition["type"], result.condition["reason"], result.condition["message"]) == (
        "Failed", "ExperimentFailed", "Experiment has failed because max failed count has reached"
    )
    # Every trial fails. A range on purpose, because the count is target-dependent: Katib
    # replaces a failed trial while the others still run, so when the budget is reached up to
    # parallel - 1 more trials may be running; they fail too, and no trial is created after the
    # experiment failed. On a cluster, whether the two first trials' failures are seen in one
    # reconcile (2 trials) or two (3) depends on timing; the local engine always gives 3
    # (pinned by tests/tuning/test_reference_experiments.py).
    assert failures <= status["trialsFailed"] <= failures + parallel - 1
    assert status["trials"] == status["trialsFailed"] == len(status["failedTrialList"])
    assert status.get("trialsSucceeded", 0) == 0
    assert not (status.get("currentOptimalTrial") or {}).get("bestTrialName")
    assert object_store.names("tuning/") == []  # a trial that fails writes no model
