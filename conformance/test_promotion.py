"""Promotion gates: a worse challenger is rejected and the champion keeps serving; an unfair one is
rejected even with better accuracy; a better one is promoted and served; every decision is
recorded; a rollback restores the previous champion, and serving follows it.

The challenger goes through the gate on the stack: a pipeline (conformance/promotion.py) built
from the reusable gate components evaluates it, gates it against the registry's champion and
promotes it only when the gate says so. Serving follows the registry (`sync`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from appliance.gates.registry import Entry, Registry
from appliance.stack import Stack
from conformance.budgets import budget_for
from conformance.deployments import ServingSandbox
from conformance.instruments import StubDataset, StubModelHandle, StubModels
from conformance.policies import GatePolicy
from conformance.sandbox import ObjectStoreSandbox
from stubs import model as models

pytestmark = [
    pytest.mark.conformance_area("promotion"),
    pytest.mark.requires_component("pipelines"),
    pytest.mark.requires_component("serving"),
]

PIPELINE = Path(__file__).parent / "promotion.py"
SUCCEEDED, SKIPPED = "SUCCEEDED", "SKIPPED"


def entry(model: StubModelHandle, data: StubDataset) -> Entry:
    """The registry entry of a model, with the metrics the evaluate step measures."""
    return Entry(model.version, model.uri, models.expected(model.artifact, data.rows))


def crown(stack: Stack, model: StubModelHandle, data: StubDataset) -> Registry:
    """Make `model` the champion by hand (revision 1), as an earlier promotion would have."""
    registry = Registry(stack.object_store)
    assert registry.promote(model.name, entry(model, data), None).revision == 1
    return registry


def challenge(
    stack: Stack, object_store: ObjectStoreSandbox, model: StubModelHandle, data: StubDataset,
    policy: GatePolicy,
) -> tuple[Any, dict[str, Any]]:
    """Run the challenger through the gate pipeline; returns the run and the gate's decision."""
    run = stack.pipelines.run(PIPELINE, {
        "model": model.name, "version": model.version, "model_uri": model.uri,
        "data_uri": data.uri, "policy": policy.text, "prefix": object_store.key("promotion"),
    }, timeout=budget_for(stack.target).pipeline_run)
    assert run.state == SUCCEEDED, run.error
    return run, json.loads(run.outputs["Output"])


def served(endpoint: Any, rows: list[list[float]]) -> list[int]:
    """What the deployment answers (v1) for these rows."""
    answer = requests.post(endpoint.v1_url, json={"instances": rows}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return list(answer.json()["predictions"])


def failed_rules(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["rule"], r["metric"]) for r in decision["rules"] if r["verdict"] == "fail"]


def test_a_worse_challenger_is_rejected_and_the_champion_keeps_serving(
    stack: Stack, object_store: ObjectStoreSandbox, serving: ServingSandbox, stub_model: StubModels,
    stub_dataset: StubDataset, gate_policy: GatePolicy,
) -> None:
    champion = stub_model(accuracy=0.86, name="churn")
    registry = crown(stack, champion, stub_dataset)
    serving.sync(champion.name)
    endpoint = serving.endpoint(champion.name)
    rows = stub_dataset.features
    assert served(endpoint, rows) == champion.predict(rows)

    worse = stub_model(accuracy=0.84, name="churn")
    run, decision = challenge(stack, object_store, worse, stub_dataset, gate_policy)
    assert run.states() == {"evaluate-model": SUCCEEDED, "gate-model": SUCCEEDED, "promote-model": SKIPPED}
    assert (decision["promote"], decision["champion_revision"]) == (False, 1)
    assert failed_rules(decision) == [("improvement", "accuracy")]
    [rule] = [r for r in decision["rules"] if r["rule"] == "improvement"]
    assert rule["inputs"] == {"challenger": 0.84, "champion": 0.86, "delta": -0.02}

    assert registry.champion(champion.name) == entry(champion, stub_dataset)
    assert [r.revision for r in registry.history(champion.name)] == [1]
    [recorded] = registry.decisions(champion.name)
    assert (recorded["id"], recorded["promote"], recorded["challenger"]["version"]) == (
        decision["id"], False, worse.version
    )
    assert serving.sync(champion.name).changed is False
    assert served(endpoint, rows) == champion.predict(rows)


def test_an_unfair_challenger_is_rejected_even_with_better_accuracy(
    stack: Stack, object_store: ObjectStoreSandbox, stub_model: StubModels,
    stub_dataset: StubDataset, gate_policy: GatePolicy,
) -> None:
    champion = stub_model(accuracy=0.85, name="loans")
    registry = crown(stack, champion, stub_dataset)
    # 576 of group a's 600 rows right, 320 of group b's 400: 0.896 overall, a gap of 0.16.
    unfair = stub_model(accuracy=0.896, groups={"a": 0.96, "b": 0.8}, name="loans")
    assert unfair.metrics(stub_dataset) == {
        "accuracy": 0.896, "groups": {"a": {"accuracy": 0.96}, "b": {"accuracy": 0.8}}
    }
    run, decision = challenge(stack, object_store, unfair, stub_dataset, gate_policy)
    assert run.states()["promote-model"] == SKIPPED
    assert decision["promote"] is False
    assert failed_rules(decision) == [("fairness", "accuracy")]  # accuracy and improvement pass
    [rule] = [r for r in decision["rules"] if r["rule"] == "fairness"]
    assert rule["inputs"]["gap"] == pytest.approx(0.16, abs=1e-12)
    assert registry.champion(champion.name) == entry(champion, stub_dataset)
    assert [(d["id"], d["promote"]) for d in registry.decisions(champion.name)] == [(decision["id"], False)]


def test_a_better_challenger_is_promoted_and_served_and_rollback_restores_the_champion(
    stack: Stack, object_store: ObjectStoreSandbox, serving: ServingSandbox, stub_model: StubModels,
    stub_dataset: StubDataset, gate_policy: GatePolicy,
) -> None:
    champion = stub_model(accuracy=0.85, name="fraud")
    registry = crown(stack, champion, stub_dataset)
    serving.sync(champion.name)
    endpoint = serving.endpoint(champion.name)
    rows = stub_dataset.features
    assert served(endpoint, rows) == champion.predict(rows)

    better = stub_model(accuracy=0.9, name="fraud")
    run, decision = challenge(stack, object_store, better, stub_dataset, gate_policy)
    assert run.states() == {"evaluate-model": SUCCEEDED, "gate-model": SUCCEEDED, "promote-model": SUCCEEDED}
    assert (decision["promote"], decision["champion_revision"], failed_rules(decision)) == (True, 1, [])
    assert run.task("promote-model").outputs == {"Output": 2}
    assert registry.champion(champion.name) == entry(better, stub_dataset)
    assert [(d["id"], d["promote"]) for d in registry.decisions(champion.name)] == [(decision["id"], True)]

    assert serving.sync(champion.name).changed is True
    assert serving.endpoint(champion.name).url == endpoint.url  # the same front, a new model
    assert served(endpoint, rows) == better.predict(rows) != champion.predict(rows)

    rolled = registry.rollback(champion.name)
    assert (rolled.revision, rolled.action, rolled.entry) == (3, "rollback", entry(champion, stub_dataset))
    assert serving.sync(champion.name).changed is True
    assert served(endpoint, rows) == champion.predict(rows)
    assert [(r.revision, r.action, r.entry.version) for r in registry.history(champion.name)] == [
        (1, "promote", champion.version), (2, "promote", better.version), (3, "rollback", champion.version),
    ]
