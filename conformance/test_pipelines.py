"""Pipelines: the reference train -> evaluate -> gate -> promote pipeline succeeds and leaves its
artifacts with the expected content hashes; a failing step fails the run naming it, with its log;
a ParallelFor fan-out collects every iteration; a condition takes exactly one branch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from appliance.stack import Stack
from conformance.budgets import Budget
from conformance.instruments import StubModels
from conformance.sandbox import ObjectStoreSandbox
from stubs import dataset, train
from stubs import model as models

pytestmark = [pytest.mark.conformance_area("pipelines"), pytest.mark.requires_component("pipelines")]

REFERENCE = Path(__file__).parent / "pipelines"
SUCCEEDED, FAILED, SKIPPED = "SUCCEEDED", "FAILED", "SKIPPED"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_hashes(object_store: ObjectStoreSandbox, prefix: str) -> dict[str, str]:
    """{name under prefix: sha256} of every object the run left under `prefix`."""
    client = object_store.client()
    found = {}
    for item in client.list_objects(object_store.bucket, prefix=prefix, recursive=True):
        response = client.get_object(object_store.bucket, str(item.object_name))
        try:
            found[str(item.object_name).removeprefix(prefix)] = sha256(response.read())
        finally:
            response.close()
            response.release_conn()
    return found


def test_reference_pipeline_succeeds_and_leaves_its_artifacts(
    stack: Stack, object_store: ObjectStoreSandbox, stub_model: StubModels, budget: Budget
) -> None:
    model = stub_model.name("reference")
    result = stack.pipelines.run(REFERENCE / "train_gate_promote.py", {"model": model},
                                 timeout=budget.pipeline_run)
    version = result.task("train-model").outputs.get("version", "")
    prefix = f"train-gate-promote/{version}/"
    try:
        assert result.state == SUCCEEDED, result.error
        assert [(t.key, t.state) for t in result.tasks] == [
            ("make-dataset", SUCCEEDED), ("train-model", SUCCEEDED), ("evaluate-model", SUCCEEDED),
            ("gate-model", SUCCEEDED), ("promote-model", SUCCEEDED),
        ]
        # What the run must have written, derived from the stubs alone (lr 0.01, depth 6 is the
        # trainer's optimum, 0.95; 200 rows of the "eval" dataset, seed 7).
        artifact = train.train(0.01, 6, 5, model, version)
        metrics = models.expected(artifact, 200)
        assert metrics["accuracy"] == 0.95
        assert stored_hashes(object_store, prefix) == {
            "data/eval.csv": sha256(dataset.generate("eval", 200, 7)),
            "metrics/metrics.json": sha256((json.dumps(metrics, sort_keys=True) + "\n").encode()),
            "model/model.json": sha256(models.dumps(artifact)),
        }
        model_uri = f"s3://{object_store.bucket}/{prefix}model/model.json"
        assert result.task("train-model").outputs == {"model_uri": model_uri, "version": version}
        decision = json.loads(result.outputs["Output"])
        assert (decision["promote"], decision["champion_revision"]) == (True, None)
        assert result.task("promote-model").outputs == {"Output": 1}
        for task in result.tasks:
            assert task.log, f"{task.key}: no log captured"
        assert f"wrote model {model} version {version} to {model_uri}" in result.task("train-model").log
    finally:
        object_store.cleanup(prefix)


def test_a_failing_step_fails_the_run_naming_it_with_its_log(
    stack: Stack, object_store: ObjectStoreSandbox, stub_model: StubModels, budget: Budget
) -> None:
    result = stack.pipelines.run(REFERENCE / "failing_step.py", {"model": stub_model.name("broken")},
                                 timeout=budget.pipeline_run)
    created = str(result.task("create-model").outputs.get("Output", ""))
    try:
        assert result.state == FAILED
        assert result.failed_tasks == ("evaluate-model",)
        assert result.states() == {
            "make-dataset": SUCCEEDED, "create-model": SUCCEEDED, "evaluate-model": FAILED,
            "gate-model": SKIPPED,
        }
        failed = result.task("evaluate-model")
        assert failed.error == (
            f"stubs.errors.StubFault: model {stub_model.name('broken')} version 1 declares "
            "fail_on_load: refusing to load"
        )
        assert "Traceback" in failed.log and failed.log_tail(1) == failed.error
        assert "evaluate-model" in result.error
        assert result.task("gate-model").log == ""
    finally:
        if created.startswith(f"s3://{object_store.bucket}/"):
            object_store.cleanup(created.removeprefix(f"s3://{object_store.bucket}/").rsplit("model/", 1)[0])


def test_fan_out_runs_every_iteration_and_collects_them(stack: Stack, budget: Budget) -> None:
    lrs = [0.001, 0.01, 0.1, 0.03]
    result = stack.pipelines.run(REFERENCE / "fan_out.py", {"lrs": lrs}, timeout=budget.pipeline_run)
    assert result.state == SUCCEEDED, result.error
    scored = {t.key: (t.state, json.loads(t.outputs["Output"])) for t in result.tasks if t.name == "score-lr"}
    assert scored == {
        f"for-loop-1-iteration-{i}/score-lr": (
            SUCCEEDED, {"lr": lr, "depth": 6, "accuracy": train.accuracy_for(lr, 6)}
        )
        for i, lr in enumerate(lrs)
    }
    assert json.loads(result.outputs["Output"]) == {"accuracy": 0.95, "depth": 6, "lr": 0.01}


def test_a_condition_takes_exactly_one_branch(stack: Stack, budget: Budget) -> None:
    # lr 0.03, depth 6 scores 0.858383: not >= 0.9 ("ready"), but >= 0.8 ("review").
    assert train.accuracy_for(0.03, 6) == 0.858383
    result = stack.pipelines.run(REFERENCE / "condition.py", {"lr": 0.03, "depth": 6},
                                 timeout=budget.pipeline_run)
    assert result.state == SUCCEEDED, result.error
    assert {k: v for k, v in result.states().items() if k.startswith("report")} == {
        "report": SKIPPED, "report-2": SUCCEEDED, "report-3": SKIPPED,
    }
    assert result.task("report-2").outputs == {"Output": "review"}
