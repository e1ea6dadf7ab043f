"""The reference experiments (conformance/experiments/) on a real local stack: the stub trainer's
known optimum is found within budget by random, tpe and grid; a failing trainer hits its budget."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from appliance.stack import Stack
from appliance.targets.local.tuning.engine import ExperimentResult, LocalTuningEngine
from conformance import experiments as references
from stubs import dataset, train


@pytest.fixture
def prefix(local_stack: Stack) -> tuple[str, str]:
    """The stub dataset in the stack's store under a fresh prefix; (data URI, output prefix)."""
    store = local_stack.object_store
    key = f"tuning-tests/{uuid.uuid4().hex[:8]}"
    data = dataset.generate(**references.DATASET)
    store.client().put_object(store.bucket, f"{key}/train.csv", io.BytesIO(data), len(data))
    return f"s3://{store.bucket}/{key}/train.csv", f"s3://{store.bucket}/{key}/tuning"


def run(stack: Stack, name: str, prefix: tuple[str, str]) -> ExperimentResult:
    data_uri, output = prefix
    result: ExperimentResult = stack.tuning.run(references.manifest(name, data_uri, output))
    return result


def best(result: ExperimentResult) -> tuple[float, int, str]:
    found = result.best
    values = {a["name"]: a["value"] for a in found["parameterAssignments"]}
    accuracy = next(m["max"] for m in found["observation"]["metrics"] if m["name"] == "accuracy")
    return float(values["lr"]), int(values["depth"]), accuracy


def stored_model(stack: Stack, output: str, trial: str) -> dict[str, Any]:
    store = stack.object_store
    key = f"{output.removeprefix(f's3://{store.bucket}/')}/{trial}/model.json"
    response = store.client().get_object(store.bucket, key)
    try:
        model: dict[str, Any] = json.loads(response.read())
    finally:
        response.close()
        response.release_conn()
    return model


@pytest.mark.parametrize("name", ["random", "tpe"])
def test_random_and_tpe_reach_the_optimum_region_within_budget(
    local_stack: Stack, prefix: tuple[str, str], name: str
) -> None:
    result = run(local_stack, name, prefix)
    spec = result.document["spec"]
    assert result.condition["reason"] == "ExperimentGoalReached"
    # random_state 42 fixes the trials: TPE's first trials are random ones, so both find the same
    # point at the fifth trial; two more were already running (3 in parallel) and are counted.
    assert (spec["maxTrialCount"], spec["parallelTrialCount"]) == (30, 3)
    assert (result.status["trials"], result.status["trialsSucceeded"]) == (7, 7)
    lr, depth, accuracy = best(result)
    assert (lr, depth, accuracy) == (0.015930522616241012, 7, "0.905796")
    # What the engine reports is what the trainer computes for those hyperparameters...
    assert accuracy == f"{train.accuracy_for(lr, depth):.6f}"
    assert float(accuracy) >= spec["objective"]["goal"] == 0.9
    trial = result.best["bestTrialName"]
    assert trial == result.trials[4]["metadata"]["name"]
    assert stored_model(local_stack, prefix[1], trial)["accuracy"] == float(accuracy)


def test_grid_finds_the_exact_optimum(local_stack: Stack, prefix: tuple[str, str]) -> None:
    result = run(local_stack, "grid", prefix)
    assert result.condition["reason"] == "ExperimentGoalReached"
    # random_state 42 orders the 12 grid points; the optimum is the fifth, and the two trials
    # already running beside it (3 in parallel) are counted too.
    order = [(float(v["lr"]), int(v["depth"])) for v in (
        {a["name"]: a["value"] for a in t["spec"]["parameterAssignments"]} for t in result.trials)]
    assert order == [(0.015, 8), (0.01, 8), (0.005, 4), (0.005, 8), (0.01, 6), (0.015, 4), (0.01, 4)]
    assert (result.status["trials"], result.status["trialsSucceeded"]) == (7, 7)
    lr, depth, accuracy = best(result)
    assert {"lr": lr, "depth": depth} == train.OPTIMUM
    assert float(accuracy) == train.BEST_ACCURACY


def test_a_failing_trainer_fails_the_experiment_at_its_budget(
    local_stack: Stack, prefix: tuple[str, str]
) -> None:
    result = run(local_stack, "failing", prefix)
    assert (result.condition["type"], result.condition["reason"]) == ("Failed", "ExperimentFailed")
    # Two at a time: the first failure is replaced at once, the second reaches the budget, and the
    # replacement (already running, as on Katib) runs to its end: three failed trials.
    assert result.status["trialsFailed"] == 3 and result.status["trials"] == 3
    for trial in result.trials:
        condition = trial["status"]["conditions"][-1]
        assert condition["reason"] == "TrialFailed. Job reason: BackoffLimitExceeded"
        assert "exited with code" in condition["message"]


def test_medianstop_stops_exactly_the_trials_its_rule_says(tmp_path: Path) -> None:
    # Standalone (local files): the rule's arithmetic is what is checked here.
    data = tmp_path / "train.csv"
    data.write_bytes(dataset.generate(**references.DATASET))
    spec = references.manifest("medianstop", str(data), str(tmp_path / "models"))
    result = LocalTuningEngine(tmp_path / "work").run(spec)
    parallel = spec["spec"]["parallelTrialCount"]
    assert result.condition["reason"] == "ExperimentMaxTrialsReached"
    averages: dict[int, float] = {}
    for index, trial in enumerate(result.trials):
        values = {a["name"]: a["value"] for a in trial["spec"]["parameterAssignments"]}
        epochs = train.epoch_metrics(float(values["lr"]), int(values["depth"]))
        first_two = [accuracy for _, accuracy, _ in epochs[:2]]
        # Trial k is created right after trial k - parallel is accounted for (in-order reconcile).
        known = [avg for i, avg in averages.items() if i <= index - parallel]
        state = trial["status"]["conditions"][-1]["type"]
        if len(known) >= 2:
            threshold = sum(known) / len(known)
            assert trial["spec"]["earlyStoppingRules"] == [
                {"name": "accuracy", "value": str(threshold), "comparison": "less", "startStep": 2}]
            assert state == ("EarlyStopped" if max(first_two) < threshold else "Succeeded")
        else:
            assert "earlyStoppingRules" not in trial["spec"] and state == "Succeeded"
        if state == "Succeeded":
            averages[index] = sum(first_two) / 2
    # random_state fixes the trials, so the rule stops exactly these four of the eight.
    assert (result.status["trials"], result.status["trialsSucceeded"],
            result.status["trialsEarlyStopped"]) == (8, 4, 4)
