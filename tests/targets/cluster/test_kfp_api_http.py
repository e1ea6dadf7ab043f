"""The real kfp.Client (ClientKfpApi) end to end against a fake KFP v2beta1 REST API on 127.0.0.1:
health check, experiment get-or-create, run create from the compiled package, run polling with
task details, terminate, and the API's errors as the appliance's."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cluster_objects import namespace, secret
from fake_cluster import FakeCluster
from fake_kfp import FakeKfp, FakeKfpServer, TaskScript

from appliance.errors import MissingPrerequisite
from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED
from appliance.targets.cluster import pipeline_ir as ir
from appliance.targets.cluster.kfp_api import ClientKfpApi, KfpApiError
from appliance.targets.cluster.pipelines import ClusterPipelinesEngine
from appliance.targets.cluster.wait import TimedOut

pytestmark = pytest.mark.integration

REFERENCE = Path(__file__).resolve().parents[3] / "conformance" / "pipelines"
STUBS = "appliance-stubs:dev"
TRACEBACK = "Traceback (most recent call last):\nValueError: bad model"


def cluster() -> FakeCluster:
    fake = FakeCluster(offline=True, loaded_images=[STUBS])
    fake.apply([namespace("kubeflow"), secret("appliance-s3-pipelines", "kubeflow",
                                              {"accesskey": "YQ==", "secretkey": "Yg=="})])
    return fake


def test_a_run_through_the_real_client(tmp_path: Path) -> None:
    fake = cluster()
    backend = FakeKfp({"evaluate-model": TaskScript(log=TRACEBACK, fail=True),
                       "create-model": TaskScript(log="wrote", outputs={"Output": "s3://b/m.json"})}, fake)
    with FakeKfpServer(backend) as server:
        api = ClientKfpApi(server.url)
        engine = ClusterPipelinesEngine(api, fake, fake.clock, tmp_path, ir.ClusterProfile(STUBS))
        result = engine.run(REFERENCE / "failing_step.py", {"model": "broken", "rows": 10})
        again = engine.run(REFERENCE / "failing_step.py", {"model": "broken"})
    assert result.states() == {"make-dataset": SUCCEEDED, "create-model": SUCCEEDED,
                               "evaluate-model": FAILED, "gate-model": SKIPPED}
    assert result.task("create-model").outputs == {"Output": "s3://b/m.json"}
    assert result.task("evaluate-model").error == "ValueError: bad model"
    assert result.error == "task evaluate-model failed: ValueError: bad model"
    assert result.run_id in backend.runs and again.run_id != result.run_id
    # The SDK sent the typed arguments, caching off and the platform spec; it reused the experiment.
    first, second = backend.created
    assert first["runtime_config"]["parameters"] == {"model": "broken", "rows": 10}
    assert first["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"][
        "executors"]["exec-make-dataset"]["imagePullPolicy"] == "IfNotPresent"
    assert all(not t.get("cachingOptions", {}).get("enableCache")
               for t in first["pipeline_spec"]["pipeline_spec"]["root"]["dag"]["tasks"].values())
    assert first["experiment_id"] == second["experiment_id"]
    assert [e["display_name"] for e in backend.experiments.values()] == ["appliance"]
    assert ("GET", "/apis/v2beta1/healthz") in server.requests
    assert [r for r in server.requests if r[0] == "POST"] == [
        ("POST", "/apis/v2beta1/experiments"), ("POST", "/apis/v2beta1/runs"), ("POST", "/apis/v2beta1/runs")]


def test_timeout_terminates_the_run_through_the_api(tmp_path: Path) -> None:
    fake = cluster()
    backend = FakeKfp({}, fake)
    with FakeKfpServer(backend) as server:
        engine = ClusterPipelinesEngine(ClientKfpApi(server.url), fake, fake.clock, tmp_path,
                                        ir.ClusterProfile(STUBS), timeout=7)
        with pytest.raises(TimedOut):
            engine.run(REFERENCE / "train_gate_promote.py", {"model": "m"})
    assert backend.terminated == list(backend.runs)
    assert [r for r in server.requests if r[1].endswith(":terminate")] == [
        ("POST", f"/apis/v2beta1/runs/{next(iter(backend.runs))}:terminate")]


def test_api_errors_are_reported_with_the_servers_message(tmp_path: Path) -> None:
    with FakeKfpServer(FakeKfp()) as server:
        api = ClientKfpApi(server.url)
        with pytest.raises(KfpApiError) as missing:
            api.get_run("nope")
        # A package without pipelineInfo: the SDK sends it, the server refuses it.
        (tmp_path / "empty.yaml").write_text("root: {}\n")
        with pytest.raises(KfpApiError) as refused:
            api.submit(tmp_path / "empty.yaml", {}, run_name="r", experiment="e", caching=False)
    assert missing.value.render() == (
        "the pipelines API refused to read run nope: 404 Not Found: run nope not found (fix: see the "
        "message; 'appliance status' shows the KFP API server)")
    assert not missing.value.transient and not refused.value.transient
    assert refused.value.render().startswith(
        "the pipelines API refused to create the run: 400 Bad Request: Invalid input error")


def test_an_unreachable_api_is_a_missing_prerequisite() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MissingPrerequisite) as raised:
        ClientKfpApi(f"http://127.0.0.1:{port}")
    assert raised.value.render() == (
        f"the pipelines API at http://127.0.0.1:{port} does not answer: ConnectionError (fix: check the "
        "stack with 'appliance status'; 'appliance up' restarts the port-forward)")
