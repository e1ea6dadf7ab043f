"""Serving follows the registry: sync and the follower serve the champion, never a rejected challenger."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import COMMANDS
from appliance.errors import BadInput
from appliance.gates import policy
from appliance.gates.registry import Entry, Registry
from appliance.runtime import process
from appliance.serving.interface import ServingEngine
from appliance.stack import Stack
from appliance.targets.local.serving.deployments import ModelRef
from appliance.targets.local.target import LocalTarget
from stubs import model as stub_model

ROOT = Path(__file__).resolve().parents[2]

POLICY = policy.loads(
    "apiVersion: appliance.dev/v1alpha1\nkind: GatePolicy\nmetadata: {name: margin}\n"
    "spec: {primaryMetric: accuracy, minImprovement: 0.01, required: [accuracy]}\n"
)


def _entries(uploader: Callable[[str, dict[str, Any]], str], model: str) -> dict[str, Entry]:
    """Champion (0.75), better challenger (0.9), worse challenger (0.5): distinct served accuracies."""
    found = {}
    for version, accuracy in (("1", 0.75), ("2", 0.9), ("3", 0.5)):
        uri = uploader(f"serving/{model}/{version}.json", stub_model.create(model, version, accuracy))
        found[version] = Entry(version, uri, {"accuracy": accuracy})
    return found


def served_accuracy(engine: ServingEngine, name: str, samples: Any) -> Fraction | None:
    """The accuracy of what deployment `name` answers on the sample rows (None: not serving)."""
    try:
        predictions = engine.predict(name, samples.v1())["predictions"]
    except BadInput:
        return None
    return Fraction(sum(p == label for p, label in zip(predictions, samples.right, strict=True)),
                    len(samples.right))


# On the 12 sample rows a stub model of accuracy t answers round(t * 12) rows right.
CHAMPION, BETTER = Fraction(9, 12), Fraction(11, 12)


def test_sync_and_the_follower_serve_the_champion_and_promotions_never_rejected_challengers(
    local_stack: Stack, uploader: Callable[[str, dict[str, Any]], str], samples: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine: ServingEngine = local_stack.serving
    registry = Registry(local_stack.object_store)
    entries = _entries(uploader, "churn")
    with pytest.raises(BadInput, match="model 'churn' has no champion in the registry") as none:
        engine.sync("churn")
    # The fix names a command that exists and promotes (the reference gated pipeline).
    assert none.value.fix == ("promote one with a gated pipeline, e.g. appliance run "
                              "conformance/pipelines/train_gate_promote.py --param model=churn, "
                              "then sync")
    assert "run" in COMMANDS and (ROOT / "conformance/pipelines/train_gate_promote.py").is_file()

    # Explicit sync (what `appliance serve sync churn` runs after a promotion).
    assert registry.gate_and_promote("churn", entries["1"], POLICY)[1] is not None
    first = engine.sync("churn")
    assert first.changed and first.deployment.model == ModelRef(entries["1"].model_uri, "1")
    assert served_accuracy(engine, "churn", samples) == CHAMPION
    assert engine.sync("churn").changed is False  # already serving the champion: nothing restarts

    decision, moved = registry.gate_and_promote("churn", entries["3"], POLICY)
    assert (decision.promote, moved) == (False, None)
    assert engine.sync("churn").changed is False
    assert served_accuracy(engine, "churn", samples) == CHAMPION

    # The follower: a background sync every `interval` seconds; the trace logs each registry read.
    interval = 0.2
    monkeypatch.setenv("APPLIANCE_FOLLOW_TRACE", "1")  # the follower inherits this environment
    follower = engine.follow("churn", interval)
    status = LocalTarget().status(local_stack.name)
    assert status is not None
    shown = {c.name: c for c in status.components}["serve/churn/follow"]
    assert (shown.healthy, shown.detail, shown.pid) == (True, "running", follower.pid)
    log = engine.deployments.run_dir.logs / "serve-churn-follow.log"

    def reads() -> list[str]:
        return [line for line in log.read_text().splitlines() if "churn: registry read, champion " in line]

    # Five reads of the registry, each seeing the champion (the rejected model was never promoted).
    assert process.wait_until(lambda: len(reads()) >= 5, 60, 0.05), \
        f"the follower did not read the registry 5 times within 60 s: {log.read_text()!r}"
    assert {line.split(" ", 1)[1] for line in reads()} == {
        f"churn: registry read, champion {entries['1'].model_uri}"}
    assert served_accuracy(engine, "churn", samples) == CHAMPION
    assert engine.deployments.require("churn").generation == 1

    assert registry.gate_and_promote("churn", entries["2"], POLICY)[1] is not None
    # Wait for the follower to serve the promotion. The timeout is the documented bound (one
    # interval, the new server's readiness, the front's switch): a generous limit for the wait,
    # not a speed claim (tests/serving/test_docs.py checks the documented bound is the code's).
    bound = interval + engine.deployments.ready_timeout + engine.deployments.switch_timeout
    assert process.wait_until(lambda: served_accuracy(engine, "churn", samples) == BETTER, bound, 0.1), \
        f"the promoted model was never served within {bound:g} s; follower log: {log.read_text()!r}"
    # The front switches before the rollout is recorded (docs/serving.md, steps 2 and 3): wait for that.
    assert process.wait_until(lambda: engine.deployments.require("churn").generation == 2, 30, 0.05), \
        f"the rollout was never recorded; follower log: {log.read_text()!r}"
    promoted = engine.deployments.require("churn")
    assert (promoted.model, promoted.previous, promoted.generation) == (
        ModelRef(entries["2"].model_uri, "2"), ModelRef(entries["1"].model_uri, "1"), 2)

    engine.delete("churn")  # stops the follower first, or it would deploy again
    assert not process.is_alive(follower.pid)
    assert engine.deployments.follower("churn") is None and engine.get("churn") is None
