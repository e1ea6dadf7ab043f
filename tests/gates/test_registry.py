"""The registry on a real local stack: exact objects, history, rollback, stale decisions, races."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from appliance.errors import BadInput, CheckFailed
from appliance.gates import policy
from appliance.gates.registry import (
    CorruptObject,
    Entry,
    Record,
    Registry,
    StaleDecision,
    StoreUnreachable,
)
from appliance.objectstore import ObjectStore
from appliance.runtime.process import free_port
from appliance.stack import Stack

POLICY = policy.loads(
    "apiVersion: appliance.dev/v1alpha1\nkind: GatePolicy\nmetadata: {name: margin}\n"
    "spec: {primaryMetric: accuracy, minImprovement: 0.01, required: [accuracy]}\n"
)


@pytest.fixture
def registry(local_stack: Stack) -> Registry:
    return Registry(local_stack.object_store)


@pytest.fixture
def model() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


def entry(version: str, accuracy: float) -> Entry:
    return Entry(version, f"s3://mlpipeline/models/{version}.json", {"accuracy": accuracy})


def moves(records: list[Record]) -> list[tuple[int, str, str, int | None]]:
    return [(r.revision, r.action, r.entry.version, r.previous) for r in records]


def test_history_rollback_and_exact_objects(registry: Registry, model: str) -> None:
    assert registry.champion(model) is None
    first = registry.gate(model, entry("v1", 0.80), POLICY)
    assert (first.promote, first.champion_revision) == (True, None)
    registry.promote(model, entry("v1", 0.80), first)
    worse = registry.gate(model, entry("v2", 0.805), POLICY)
    assert worse.promote is False
    with pytest.raises(CheckFailed) as rejected:
        registry.promote(model, entry("v2", 0.805), worse)
    assert rejected.value.render() == (
        f"not promoting {model} v2: the gate rejected it: improvement(accuracy)")
    better = registry.gate(model, entry("v3", 0.90), POLICY)
    assert better.champion_revision == 1
    registry.promote(model, entry("v3", 0.90), better)
    assert registry.champion(model) == entry("v3", 0.90)

    back = registry.rollback(model)
    assert (back.revision, back.action, back.entry, back.previous) == (
        3, "rollback", entry("v1", 0.80), None)
    with pytest.raises(CheckFailed, match=r"revision 3 \(v1\) has no predecessor"):
        registry.rollback(model)  # the first champion has nothing before it
    assert moves(registry.history(model)) == [
        (1, "promote", "v1", None), (2, "promote", "v3", 1), (3, "rollback", "v1", None)
    ]
    history = registry.history(model)
    assert [r.decision for r in history] == [first.id, better.id, None]
    decisions = registry.decisions(model)
    assert [(d["id"], d["promote"], d["challenger"]["version"], d["champion_revision"])
            for d in decisions] == [
        (first.id, True, "v1", None), (worse.id, False, "v2", 1), (better.id, True, "v3", 1)
    ]
    assert decisions[1]["rules"][-1]["detail"] == (
        "improves accuracy by 0.005 (maximize; 0.8 -> 0.805), below minImprovement 0.01")
    keys = registry.objects.keys(f"registry/{model}/")
    assert keys == sorted(
        [f"registry/{model}/champion.json"]
        + [f"registry/{model}/history/0000000{r}.json" for r in (1, 2, 3)]
        + [f"registry/{model}/decisions/{d.id}.json" for d in (first, worse, better)]
    )
    assert model in registry.models()


def test_stale_decision_is_refused(registry: Registry, model: str) -> None:
    registry.promote(model, entry("base", 0.5), None)
    late = registry.gate(model, entry("late", 0.7), POLICY)
    registry.promote(model, entry("manual", 0.6), None)
    with pytest.raises(StaleDecision) as stale:
        registry.promote(model, entry("late", 0.7), late)
    assert stale.value.why == (
        "the decision was made against revision 1, the registry is at revision 2")
    assert registry.champion(model) == entry("manual", 0.6)
    decision, record = registry.gate_and_promote(model, entry("late", 0.7), POLICY)
    assert decision.champion_revision == 2 and record is not None and record.revision == 3


def test_dead_writer_between_pointer_and_history_loses_nothing(
    registry: Registry, model: str
) -> None:
    registry.promote(model, entry("a", 0.5), None)
    orphan = Record(model, 2, "promote", entry("b", 0.6), 1, None, "t", "n")
    # What a writer leaves when it dies right after moving the pointer.
    found = registry.objects.get(registry.head_key(model))
    assert found is not None
    registry.objects.put(registry.head_key(model), _body(orphan), if_match=found[1])
    assert registry.record(model, 2) is None
    assert moves(registry.history(model)) == [(1, "promote", "a", None), (2, "promote", "b", 1)]
    registry.promote(model, entry("c", 0.7), None)
    assert registry.record(model, 2) == orphan
    assert registry.rollback(model).entry == entry("b", 0.6)


def test_bad_model_name(registry: Registry) -> None:
    with pytest.raises(BadInput, match=r"invalid model name '../x'"):
        registry.champion("../x")


@pytest.mark.parametrize(("name", "suggested"), [("my_model", "my-model"),
                                                 ("Fraud.V2", "fraud-v2"), ("x" * 46, "x" * 45)])
def test_names_serving_could_not_use_are_refused_at_gate_and_promote_time(
    registry: Registry, name: str, suggested: str
) -> None:
    # `serve sync MODEL` serves MODEL as the deployment of the same name: a model the registry
    # accepted but serving refused could never be served.
    expected = (f"invalid model name {name!r}: model names are DNS labels: 1-45 lowercase "
                "letters, digits or '-', starting and ending alphanumeric (a model is served as "
                f"the deployment of the same name) (fix: use a name such as {suggested!r})")
    for call in (lambda: registry.gate(name, entry("v1", 0.9), POLICY),
                 lambda: registry.promote(name, entry("v1", 0.9), None),
                 lambda: registry.gate_and_promote(name, entry("v1", 0.9), POLICY)):
        with pytest.raises(BadInput) as refused:
            call()
        assert refused.value.render() == expected
    assert registry.objects.keys(f"registry/{name}/") == []


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # collected and asserted by the caller
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_manual_promotions_lose_no_history_entry(local_stack: Stack, model: str) -> None:
    # One registry (and so one S3 client) per writer, as separate processes would have.
    def work(index: int) -> list[int]:
        writer = Registry(local_stack.object_store)
        return [writer.promote(model, entry(f"w{index}-{n}", 0.5), None).revision
                for n in range(3)]

    results = _race(6, work)
    revisions = sorted(r for result in results for r in result)
    assert revisions == list(range(1, 19))
    history = Registry(local_stack.object_store).history(model)
    assert [r.revision for r in history] == list(range(1, 19))
    assert sorted(r.entry.version for r in history) == sorted(
        f"w{i}-{n}" for i in range(6) for n in range(3))
    # Every record points at the one it replaced: one unbroken chain.
    assert [r.previous for r in history] == [None, *range(1, 18)]


def test_concurrent_gated_promotions_end_with_the_best(local_stack: Stack, model: str) -> None:
    accuracies = [0.81, 0.87, 0.83, 0.95, 0.85, 0.91]

    def work(index: int) -> bool:
        writer = Registry(local_stack.object_store)
        decision, record = writer.gate_and_promote(
            model, entry(f"c{index}", accuracies[index]), POLICY)
        return record is not None

    results = _race(len(accuracies), work)
    assert all(isinstance(r, bool) for r in results), results
    registry = Registry(local_stack.object_store)
    assert registry.champion(model) == entry("c3", 0.95)
    history = registry.history(model)
    chain = [float(r.entry.metrics["accuracy"]) for r in history]
    assert chain == sorted(chain) and len(set(chain)) == len(chain)
    assert [r.revision for r in history] == list(range(1, len(history) + 1))
    assert sum(results) == len(history)
    applied = {r.decision for r in history}
    promoted = [d for d in registry.decisions(model) if d["id"] in applied]
    assert all(d["promote"] for d in promoted) and len(promoted) == len(history)


def test_two_decisions_against_one_champion_only_one_applies(
    local_stack: Stack, model: str
) -> None:
    Registry(local_stack.object_store).promote(model, entry("base", 0.5), None)
    decisions = [Registry(local_stack.object_store).gate(model, entry(f"x{i}", 0.9), POLICY)
                 for i in range(2)]

    def work(index: int) -> object:
        return Registry(local_stack.object_store).promote(
            model, entry(f"x{index}", 0.9), decisions[index])

    results = _race(2, work)
    assert sorted(type(r).__name__ for r in results) == ["Record", "StaleDecision"]
    assert [r.revision for r in Registry(local_stack.object_store).history(model)] == [1, 2]


def _body(record: Record) -> bytes:
    import json

    return json.dumps(record.to_dict()).encode()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"garbage", "not JSON (Expecting value: line 1 column 1 (char 0))"),
        (b"[1]", "a JSON object was expected, found list"),
        (b'{"model": "fraud"}', "not a registry record (KeyError: 'revision')"),
        (b'{"model": "m", "revision": 1, "action": "promote", "entry": 3}',
         "not a registry record (TypeError: 'int' object is not subscriptable)"),
    ],
)
def test_a_corrupt_champion_names_its_key(registry: Registry, model: str, body: bytes,
                                          why: str) -> None:
    registry.promote(model, entry("v1", 0.8), None)
    key = registry.head_key(model)
    registry.objects.client.put_object(Bucket=registry.objects.bucket, Key=key, Body=body)
    for read in (registry.head, registry.history, registry.rollback):
        with pytest.raises(CorruptObject) as raised:
            read(model)
        assert raised.value.render() == (
            f"registry object {key} is corrupt: {why} (fix: restore or delete the object "
            "(it was edited outside the registry))")
        assert raised.value.exit_code == 1


def test_a_corrupt_decision_names_its_key(registry: Registry, model: str) -> None:
    key = registry.decision_key(model, "x")
    registry.objects.client.put_object(Bucket=registry.objects.bucket, Key=key, Body=b"{")
    with pytest.raises(CorruptObject, match=f"registry object {key} is corrupt"):
        registry.decisions(model)


def test_rolling_back_an_unknown_model_is_bad_input(registry: Registry, model: str) -> None:
    with pytest.raises(BadInput, match=f"cannot roll back {model}: it has no champion"):
        registry.rollback(model)


def test_an_unreachable_store_is_one_line(model: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    down = Registry(ObjectStore(endpoint, "key", "secret"))
    for read in (down.head, down.decisions, lambda _: down.models()):
        with pytest.raises(StoreUnreachable) as raised:
            read(model)
        assert raised.value.what == f"object store {endpoint} unreachable"
        assert raised.value.fix == "appliance status / appliance up"
        assert raised.value.exit_code == 3
