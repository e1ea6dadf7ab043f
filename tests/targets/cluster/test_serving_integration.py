"""The cluster serving engine end to end over the KServe protocol: FakeCluster with the fake KServe
decides which pod serves; each pod is a real stub model server started from the container the
engine wrote, its model downloaded from a real S3 (moto) as the storage-initializer would; the
engine's own HTTP probe and predictions go through a stable local port. The follower's loop runs
here too, over the real registry in the same object store."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_cluster import CRASH_LOOP, FakeCluster, Fault
from fake_controllers import WORKLOADS, install_kserve, install_workloads
from follow_ticks import follow_ticks
from stub_forwards import StubServerForwards

from appliance.gates import policy
from appliance.gates.registry import Entry, Registry
from appliance.objectstore import ObjectStore
from appliance.runtime.process import free_port
from appliance.serving.artifacts import describe
from appliance.serving.engine import BackendServingEngine
from appliance.serving.records import ModelRef
from appliance.targets.cluster.serving import InferenceServices, inference_service
from stubs import dataset
from stubs import model as stub_model

pytestmark = pytest.mark.integration

BUCKET = "models"


@pytest.fixture(scope="module")
def store() -> Iterator[ObjectStore]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        found = ObjectStore(f"http://127.0.0.1:{port}", "integration-key", "integration-secret",
                            bucket=BUCKET)
        found.client().make_bucket(BUCKET)
        yield found
    finally:
        server.stop()


def upload(store: ObjectStore, key: str, artifact: dict[str, Any]) -> str:
    data = stub_model.dumps(artifact)
    store.client().put_object(BUCKET, key, io.BytesIO(data), len(data), content_type="application/json")
    return f"s3://{BUCKET}/{key}"


@pytest.fixture
def serving(store: ObjectStore, tmp_path: Path) -> Iterator[tuple[BackendServingEngine, FakeCluster]]:
    fake = FakeCluster()
    install_workloads(fake)
    install_kserve(fake)
    forwards = StubServerForwards(fake, store, tmp_path)
    backend = InferenceServices(fake, forwards, partial(describe, store), fake.clock, "appliance-stubs:test")
    try:
        yield BackendServingEngine(backend, lambda: None), fake  # type: ignore[arg-type, return-value]
    finally:
        forwards.close()


def v2(rows: list[list[float]]) -> dict[str, Any]:
    return {"id": "it", "inputs": [{"name": "input-0", "shape": [len(rows), dataset.FEATURES],
                                    "datatype": "FP64", "data": [x for row in rows for x in row]}]}


def test_predictions_rollout_and_rollback_over_the_kserve_protocol(
    serving: tuple[BackendServingEngine, FakeCluster], store: ObjectStore
) -> None:
    engine, fake = serving
    right = stub_model.create("iris", "1", 1.0)
    wrong = stub_model.create("iris", "2", 0.0)
    first, second = upload(store, "iris/1/model.json", right), upload(store, "iris/2/model.json", wrong)
    rows = [list(r.features) for r in dataset.rows_of("cluster-serving", 40, 3)]
    expected = {version: stub_model.from_artifact(artifact).predict(rows)
                for version, artifact in (("1", right), ("2", wrong))}

    endpoint = engine.deploy("iris", first)
    assert engine.predict("iris", {"instances": rows}) == {"predictions": expected["1"]}
    answer = engine.predict("iris", v2(rows))
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("iris", "1", "it")
    assert answer["outputs"][0]["data"] == expected["1"]

    # A rollout under load: every request answers, first from the old model, then the new one.
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                response = http.post(endpoint.v2_url, json=v2(rows[:4]), timeout=30)
                answers.append((response.status_code, response.json().get("model_version", "")))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        assert engine.rollout("iris", second) == endpoint  # the same stable URL
        time.sleep(0.3)  # some requests after the switch too
    finally:
        stop.set()
        worker.join(timeout=60)
    rolled = engine.require("iris")
    assert (rolled.model, rolled.previous, rolled.generation) == (
        ModelRef(second, "2"), ModelRef(first, "1"), 2)
    assert {status for status, _ in answers} == {200}
    versions = [version for _, version in answers]
    switch = versions.index("2")
    assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"} and switch > 0
    assert engine.predict("iris", {"instances": rows}) == {"predictions": expected["2"]}

    assert engine.rollback("iris") == endpoint and engine.require("iris").model == ModelRef(first, "1")
    assert engine.predict("iris", {"instances": rows}) == {"predictions": expected["1"]}

    engine.delete("iris")
    assert fake.list("v1", "Pod", WORKLOADS) == []
    with pytest.raises(requests.ConnectionError):
        requests.post(endpoint.v1_url, json={"instances": rows}, timeout=5)


def test_a_model_that_is_not_in_the_object_store_is_refused_before_anything_is_applied(
    serving: tuple[BackendServingEngine, FakeCluster],
) -> None:
    engine, fake = serving
    since = len(fake.calls)
    with pytest.raises(Exception) as caught:
        engine.deploy("iris", f"s3://{BUCKET}/absent/model.json")
    assert caught.value.render().startswith(f"cannot read model s3://{BUCKET}/absent/model.json: NoSuchKey")
    assert [call for call, _ in fake.calls[since:] if call == "apply"] == []


def _listening(port: int) -> set[str]:
    """The local addresses LISTENing on `port` (Linux /proc/net/tcp, IPv4)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_the_predictor_command_binds_all_addresses_as_a_pod_needs(tmp_path: Path) -> None:
    """The container command the engine writes, run as is (but on a free port and a local file):
    the stub server accepts --host 0.0.0.0 and listens there, where the kubelet's probe and the
    Service reach it (the stub binds 127.0.0.1 unless told)."""
    stub_model.save(stub_model.create("iris", "1", 1.0), str(tmp_path / "model.json"))
    [container] = inference_service("iris", ModelRef("s3://models/iris/1/model.json", "1"), None,
                                    namespace=WORKLOADS, stubs_image="x")["spec"]["predictor"]["containers"]
    port = free_port()
    args = [a.replace("/mnt/models", str(tmp_path)) for a in container["args"]]
    args[args.index("--port") + 1] = str(port)
    assert container["command"][0] == "python"
    process = subprocess.Popen([sys.executable, *container["command"][1:], *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert _listening(port) == {"0.0.0.0"}
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_follower_loop_serves_what_the_registry_promotes_and_skips_a_champion_that_cannot_serve(
    serving: tuple[BackendServingEngine, FakeCluster], store: ObjectStore,
) -> None:
    """The follower's loop in this process over the real registry (moto): each promotion is served
    by real stub servers; a champion whose pods never get ready is rolled back once and then left
    alone, the previous champion answering throughout."""
    backend, fake = serving[0].deployments, serving[1]
    registry = Registry(store)
    engine = BackendServingEngine(backend, lambda: registry)
    entries = {}
    for version, accuracy in (("1", 0.75), ("2", 0.9), ("3", 0.95)):
        uri = upload(store, f"churn/{version}/model.json", stub_model.create("churn", version, accuracy))
        entries[version] = Entry(version, uri, {"accuracy": accuracy})
    fake.fault(WORKLOADS, "churn-predictor", Fault(CRASH_LOOP, pods=lambda pod: any(
        e.get("value") == entries["3"].model_uri for e in pod["spec"]["containers"][0].get("env", []))))
    rows = [list(r.features) for r in dataset.rows_of("cluster-follow", 24, 5)]
    expected = {v: stub_model.from_artifact(stub_model.create("churn", v, a)).predict(rows)
                for v, a in (("1", 0.75), ("2", 0.9))}
    gate = policy.loads("apiVersion: appliance.dev/v1alpha1\nkind: GatePolicy\nmetadata: {name: m}\n"
                        "spec: {primaryMetric: accuracy, minImprovement: 0.01}\n")

    def promote(version: str) -> None:
        assert registry.gate_and_promote("churn", entries[version], gate)[1] is not None

    def applies() -> int:
        return sum(1 for call, args in fake.calls if call == "apply" and args[0].kind == "InferenceService")

    seen: list[tuple[str, list[int], int]] = []

    def look() -> None:
        deployment = engine.require("churn")
        seen.append((deployment.model.version, engine.predict("churn", {"instances": rows})["predictions"],
                     applies()))

    ticks = [lambda: promote("1"), lambda: (look(), promote("2")), lambda: (look(), promote("3")), look, look]
    lines = follow_ticks(engine, registry, "churn", ticks)

    assert seen[0] == ("1", expected["1"], 1)
    assert seen[1] == ("2", expected["2"], 2)
    # Version 3 was tried once (its apply and the undo) and not again; version 2 kept answering.
    assert seen[2:] == [("2", expected["2"], 4)] * 2
    assert registry.champion("churn").version == "3"  # type: ignore[union-attr]
    assert lines[:2] == [f"churn: serving the champion {entries[v].model_uri} (version {v})" for v in "12"]
    assert lines[2].startswith(f"churn: champion {entries['3'].model_uri} was not deployed, the previous "
                               "model keeps serving: deployment 'churn' did not serve")
    assert len(lines) == 3
    engine.delete("churn")
