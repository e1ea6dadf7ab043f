"""One scenario through the CLI on every target: a stack with the serving profile follows the model
registry (`serve follow`), serving each promoted champion, answering `serve predict` with exactly
the stub model's predictions, until `serve unfollow`. The local target runs it here; the kind target
runs the same code where Docker and kind work (the kind CI workflow) and is skipped elsewhere with
the reason printed."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from kind_available import WHY as KIND_WHY

from appliance import targets
from appliance.gates.registry import Entry, Registry
from appliance.objectstore import ObjectStore
from appliance.runtime.process import wait_until
from stubs import dataset
from stubs import model as stub_model

MODEL = "churn"
ACCURACY = {"1": 0.75, "2": 0.9}
# How long a promotion may take to be served: the follower's interval plus one rollout (local:
# a model server process; kind: a pod pulled from the node's cache, KServe's storage-initializer).
SERVED_WITHIN = {"local": 60.0, "kind": 600.0}
UP_OPTIONS = {"local": (), "kind": ("--timeout", "25m")}

TARGETS = [
    pytest.param("local", id="local"),
    pytest.param("kind", id="kind", marks=[
        pytest.mark.kind, pytest.mark.skipif(bool(KIND_WHY), reason=f"needs Docker and kind: {KIND_WHY}")]),
]


def upload(store: ObjectStore, key: str, artifact: dict[str, Any]) -> str:
    data = stub_model.dumps(artifact)
    store.client().put_object(store.bucket, key, io.BytesIO(data), len(data), content_type="application/json")
    return f"s3://{store.bucket}/{key}"


@pytest.mark.parametrize("target", TARGETS)
def test_serving_follows_each_promotion_through_the_cli(target: str, cli: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"follow-{target}"
    up = cli("up", "--target", target, "--profile", "serving", "--name", name, *UP_OPTIONS[target],
             timeout=30 * 60)
    try:
        assert up.returncode == 0, up.stderr
        # This process reads the stack as the CLI does: same home, same recorded target.
        monkeypatch.setenv("APPLIANCE_HOME", str(cli.home))
        store = targets.open_stack(name).object_store
        registry = Registry(store)
        artifacts = {v: stub_model.create(MODEL, v, a) for v, a in ACCURACY.items()}
        uris = {v: upload(store, f"follow/{MODEL}/{v}.json", a) for v, a in artifacts.items()}
        rows = [list(r.features) for r in dataset.rows_of("follow-e2e", 16, 3)]
        body = json.dumps({"instances": rows})

        def served() -> str | None:
            listed = cli("serve", "list", "--json", "--stack", name)
            found = [d for d in json.loads(listed.stdout or "[]") if d["name"] == MODEL and d["healthy"]]
            return found[0]["version"] if found else None

        def predictions() -> list[int]:
            answer = cli("serve", "predict", MODEL, "--json", body, "--stack", name, check=True)
            return list(json.loads(answer.stdout)["predictions"])

        registry.promote(MODEL, Entry("1", uris["1"], {"accuracy": ACCURACY["1"]}), None)
        followed = cli("serve", "follow", MODEL, "--interval", "1", "--stack", name, check=True)
        assert followed.returncode == 0
        assert wait_until(lambda: served() == "1", SERVED_WITHIN[target]), cli(
            "status", "--name", name).stdout
        assert predictions() == stub_model.from_artifact(artifacts["1"]).predict(rows)

        registry.promote(MODEL, Entry("2", uris["2"], {"accuracy": ACCURACY["2"]}), None)
        assert wait_until(lambda: served() == "2", SERVED_WITHIN[target])
        assert predictions() == stub_model.from_artifact(artifacts["2"]).predict(rows)

        unfollowed = cli("serve", "unfollow", MODEL, "--stack", name, check=True)
        assert unfollowed.returncode == 0
        deleted = cli("serve", "delete", MODEL, "--stack", name, check=True)
        assert deleted.returncode == 0
        assert served() is None
    finally:
        down = cli("down", "--name", name, timeout=600)
    assert down.returncode == 0, down.stderr
