"""The reference pipelines end to end on a local stack, down to the exact objects they leave."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from appliance.gates.registry import Entry, Registry
from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED
from appliance.stack import Stack
from stubs import dataset, train
from stubs import model as models

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "pipelines"


def objects(stack: Stack, prefix: str) -> dict[str, bytes]:
    client = stack.object_store.client()
    found = {}
    for item in client.list_objects("mlpipeline", prefix=prefix, recursive=True):
        response = client.get_object("mlpipeline", item.object_name)
        try:
            found[item.object_name[len(prefix):]] = response.read()
        finally:
            response.close()
            response.release_conn()
    return found


def test_train_gate_promote_then_reject_a_worse_model(local_stack: Stack) -> None:
    model = f"ref-{uuid.uuid4().hex[:8]}"
    first = local_stack.pipelines.run(REFERENCE / "train_gate_promote.py", {"model": model})
    assert first.state == SUCCEEDED, first.error
    assert first.warnings == ()
    assert [(t.key, t.state) for t in first.tasks] == [
        ("make-dataset", SUCCEEDED), ("train-model", SUCCEEDED), ("evaluate-model", SUCCEEDED),
        ("gate-model", SUCCEEDED), ("promote-model", SUCCEEDED),
    ]
    # Objects and the registry version are keyed by the run id the engine reports.
    run_id = first.run_id
    prefix = f"train-gate-promote/{run_id}/"
    artifact = train.train(0.01, 6, 5, model, run_id)
    expected_metrics = models.expected(artifact, 200)
    assert expected_metrics["accuracy"] == 0.95
    stored = objects(local_stack, prefix)
    assert sorted(stored) == ["data/eval.csv", "metrics/metrics.json", "model/model.json"]
    assert stored["data/eval.csv"] == dataset.generate("eval", 200, 7)
    assert stored["model/model.json"] == models.dumps(artifact)
    assert json.loads(stored["metrics/metrics.json"]) == expected_metrics
    model_uri = f"s3://mlpipeline/{prefix}model/model.json"
    assert first.task("train-model").outputs == {"model_uri": model_uri, "version": run_id}
    assert first.task("promote-model").outputs == {"Output": 1}

    decision = json.loads(first.outputs["Output"])
    assert (decision["promote"], decision["champion_revision"]) == (True, None)
    assert [(r["rule"], r["verdict"]) for r in decision["rules"]] == [
        ("required", "pass"), ("threshold", "pass"), ("fairness", "pass")
    ]
    registry = Registry(local_stack.object_store)
    assert registry.champion(model) == Entry(run_id, model_uri, expected_metrics)
    assert sorted(objects(local_stack, f"registry/{model}/")) == [
        "champion.json", f"decisions/{decision['id']}.json", "history/00000001.json"
    ]

    worse = local_stack.pipelines.run(REFERENCE / "train_gate_promote.py",
                                      {"model": model, "lr": 0.03})
    assert worse.state == SUCCEEDED, worse.error
    assert worse.states()["promote-model"] == SKIPPED
    rejected = json.loads(worse.outputs["Output"])
    assert (rejected["promote"], rejected["champion_revision"]) == (False, 1)
    # Declared 0.858383 (lr=0.03); measured on 200 rows: round(0.858383 * 200) / 200 = 0.86.
    assert models.expected(train.train(0.03, 6), 200)["accuracy"] == 0.86
    assert rejected["rules"][1]["detail"] == "accuracy 0.86 >= min 0.8"
    assert rejected["rules"][-1]["detail"] == (
        "changes accuracy by -0.09 (maximize; 0.95 -> 0.86), below minImprovement 0.01")
    assert registry.champion(model) == Entry(run_id, model_uri, expected_metrics)
    assert [d["promote"] for d in registry.decisions(model)] == [True, False]
    assert [r.revision for r in registry.history(model)] == [1]


def test_failing_step(local_stack: Stack) -> None:
    run = local_stack.pipelines.run(REFERENCE / "failing_step.py")
    assert run.state == FAILED
    assert run.failed_tasks == ("evaluate-model",)
    assert run.states() == {"create-model": SUCCEEDED, "make-dataset": SUCCEEDED,
                            "evaluate-model": FAILED, "gate-model": SKIPPED}
    failed = run.task("evaluate-model")
    assert failed.error == (
        "stubs.errors.StubFault: model broken version 1 declares fail_on_load: refusing to load")
    assert failed.log_tail(1) == failed.error
    prefix = f"failing-step/{run.run_id}/"
    assert run.task("create-model").outputs == {"Output": f"s3://mlpipeline/{prefix}model/model.json"}
    stored = objects(local_stack, prefix)
    assert sorted(stored) == ["data/eval.csv", "model/model.json"]


def test_fan_out(local_stack: Stack) -> None:
    run = local_stack.pipelines.run(REFERENCE / "fan_out.py")
    assert run.state == SUCCEEDED
    assert json.loads(run.outputs["Output"]) == {"accuracy": 0.95, "depth": 6, "lr": 0.01}
    scored = {t.key: json.loads(t.outputs["Output"]) for t in run.tasks if t.name == "score-lr"}
    assert scored == {
        f"for-loop-1-iteration-{i}/score-lr": {"lr": lr, "depth": 6,
                                                "accuracy": train.accuracy_for(lr, 6)}
        for i, lr in enumerate([0.001, 0.01, 0.1, 0.03])
    }


@pytest.mark.parametrize(("lr", "taken"), [(0.01, "report"), (0.03, "report-2"),
                                           (0.1, "report-3")])
def test_condition_takes_exactly_one_branch(local_stack: Stack, lr: float, taken: str) -> None:
    run = local_stack.pipelines.run(REFERENCE / "condition.py", {"lr": lr})
    assert run.state == SUCCEEDED
    branches = {k: v for k, v in run.states().items() if k.startswith("report")}
    assert branches == {name: SUCCEEDED if name == taken else SKIPPED
                        for name in ("report", "report-2", "report-3")}
    assert run.task(taken).outputs == {
        "Output": {"report": "ready", "report-2": "review", "report-3": "retrain"}[taken]}
