"""The serving lifecycle on a real local stack with real stub model servers (KServe ModelServer)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from appliance.errors import BadInput, ExternalCommandFailed
from appliance.gates.registry import check_model_name
from appliance.runtime import process
from appliance.serving.interface import RolloutFailed, ServingEngine
from appliance.stack import Stack
from appliance.targets.interface import ComponentStatus
from appliance.targets.local.serving.deployments import Deployment, Health, ModelRef, validate_name
from appliance.targets.local.target import LocalTarget, stray_pids


def _engine(stack: Stack) -> ServingEngine:
    engine: ServingEngine = stack.serving
    return engine


def _components(stack: Stack, name: str) -> dict[str, ComponentStatus]:
    status = LocalTarget().status(stack.name)
    assert status is not None
    return {c.name: c for c in status.components if c.name.startswith(f"serve/{name}")}


def _scan(stack: Stack, uri: str) -> list[int]:
    from appliance.runtime.state import RunDir

    run_dir = RunDir(stack.name, stack.run_dir.parent)
    return [pid for pid in stray_pids(run_dir) if f"--model-uri {uri} " in process.cmdline(pid)]


@pytest.fixture(scope="module")
def shared(local_stack: Stack, models: dict[str, str]) -> Iterator[Deployment]:
    """One deployment of the `right` model for the read-only tests of this module."""
    engine = _engine(local_stack)
    engine.deploy("shared", models["right"])
    deployment = engine.get("shared")
    assert deployment is not None
    yield deployment
    engine.delete("shared")


def test_deploy_serves_exact_v1_and_v2_predictions(
    local_stack: Stack, shared: Deployment, samples: Any
) -> None:
    engine = _engine(local_stack)
    assert engine.predict("shared", samples.v1()) == {"predictions": samples.right}
    v2 = engine.predict("shared", samples.v2())
    assert (v2["model_name"], v2["model_version"]) == ("shared", "1")
    assert v2["outputs"] == [{"name": "output-0", "shape": [len(samples.right)], "datatype": "INT64",
                              "parameters": None, "data": samples.right}]
    # The same answers straight from the URLs the endpoint hands out.
    endpoint = shared.endpoint
    assert endpoint.v1_url == f"{endpoint.url}/v1/models/shared:predict"
    assert endpoint.url.startswith("http://127.0.0.1:")
    assert requests.post(endpoint.v1_url, json=samples.v1()).json() == {"predictions": samples.right}
    assert requests.post(endpoint.v2_url, json=samples.v2()).json()["outputs"][0]["data"] == samples.right


def test_deployment_is_recorded_and_shown_by_status_and_list(
    local_stack: Stack, shared: Deployment, models: dict[str, str]
) -> None:
    assert shared.model == ModelRef(models["right"], "1")
    assert shared.previous is None and shared.generation == 1
    components = _components(local_stack, "shared")
    assert sorted(components) == ["serve/shared", "serve/shared/model"]
    front, model = components["serve/shared"], components["serve/shared/model"]
    assert (front.healthy, front.detail) == (True, f"ok; serves {models['right']} version 1")
    assert front.endpoint == shared.endpoint.url
    assert front.extra["v1_url"] == shared.endpoint.v1_url and front.extra["v2_url"] == shared.endpoint.v2_url
    assert (model.healthy, model.detail) == (True, "ok; version 1")
    listed = {d.name: (d, h) for d, h in _engine(local_stack).list()}
    assert listed["shared"] == (shared, Health(True, "ready"))


def test_fifty_keep_alive_clients_get_no_error(
    shared: Deployment, samples: Any, load: Callable[..., Any]
) -> None:
    # A fixed amount of traffic (50 clients x 40 requests), not a duration: the same test on any
    # machine (6 s in one run on the loaded 2-core development VM). The timeout only bounds a hang.
    running = load(shared.endpoint.v1_url, samples.v1(), clients=50, each=40).start()
    finished = running.join(timeout=300)
    running.stop()
    assert finished, f"the 50 clients did not finish 40 requests each within 300 s: {running.total} answers"
    assert running.errors == []
    assert [len(answers) for answers in running.answers] == [40] * 50  # every request was answered
    assert {tuple(a["predictions"]) for answers in running.answers for a in answers} == {tuple(samples.right)}


def test_rollout_under_continuous_load_fails_no_request_then_rollback(
    local_stack: Stack, models: dict[str, str], samples: Any, load: Callable[..., Any]
) -> None:
    engine = _engine(local_stack)
    engine.deploy("roll", models["slow-right"])
    before = engine.get("roll")
    assert before is not None

    running = load(before.endpoint.v1_url, samples.v1(), clients=4).start()
    running.wait_each(5)
    endpoint = engine.deploy("roll", models["wrong"])  # an existing name: a rollout
    seen_at_switch = [len(a) for a in running.answers]
    running.wait_each(max(seen_at_switch) + 5)
    running.stop()

    assert running.errors == []
    for answers in running.answers:
        labels = [a["predictions"] for a in answers]
        assert set(map(tuple, labels)) == {tuple(samples.right), tuple(samples.wrong)}
        switch = labels.index(samples.wrong)
        # A clean switch: the old model until some point, the new one ever after.
        assert labels[:switch] == [samples.right] * switch
        assert labels[switch:] == [samples.wrong] * (len(labels) - switch)

    after = engine.get("roll")
    assert after is not None
    assert endpoint == before.endpoint  # the stable front did not move
    assert after.front_pid == before.front_pid
    assert (after.model, after.previous, after.generation) == (
        ModelRef(models["wrong"], "2"), ModelRef(models["slow-right"], "3"), 2)
    assert not process.is_alive(before.model_pid)  # drained, then stopped
    assert _components(local_stack, "roll")["serve/roll/model"].detail == "ok; version 2"

    engine.rollback("roll")
    back = engine.get("roll")
    assert back is not None
    assert (back.model, back.previous, back.generation) == (
        ModelRef(models["slow-right"], "3"), ModelRef(models["wrong"], "2"), 3)
    assert engine.predict("roll", samples.v1()) == {"predictions": samples.right}
    assert not process.is_alive(after.model_pid)
    engine.delete("roll")


def test_a_model_that_fails_to_load_fails_the_deploy_or_rollout_and_the_old_keeps_serving(
    local_stack: Stack, models: dict[str, str], samples: Any, shared: Deployment
) -> None:
    engine = _engine(local_stack)
    with pytest.raises(ExternalCommandFailed) as first:
        engine.deploy("never", models["broken"])
    assert (f"failed to load {models['broken']}: error: model clf version 4 declares fail_on_load"
            in first.value.why)
    assert engine.get("never") is None
    assert _components(local_stack, "never") == {}

    with pytest.raises(ExternalCommandFailed) as rollout:
        engine.deploy("shared", models["broken"])
    assert "declares fail_on_load: refusing to load" in rollout.value.render()
    # Both are what the registry follower does not retry (appliance/serving/follow.py).
    assert isinstance(first.value, RolloutFailed) and isinstance(rollout.value, RolloutFailed)
    assert engine.get("shared") == shared  # the record did not move
    assert engine.predict("shared", samples.v1()) == {"predictions": samples.right}
    assert _scan(local_stack, models["broken"]) == []  # no failed server is left running


def test_killed_processes_are_reported_a_new_deploy_replaces_them_and_delete_stops_all(
    local_stack: Stack, models: dict[str, str], samples: Any
) -> None:
    engine = _engine(local_stack)
    engine.deploy("phoenix", models["right"])
    before = engine.get("phoenix")
    assert before is not None
    os.kill(before.model_pid, signal.SIGKILL)
    assert process.wait_until(lambda: not process.is_alive(before.model_pid), 10)

    assert engine.deployments.health(before) == Health(False, "model server not running")
    components = _components(local_stack, "phoenix")
    assert (components["serve/phoenix/model"].healthy, components["serve/phoenix/model"].detail) == (
        False, "process not running")
    front = components["serve/phoenix"]
    assert (front.healthy, front.detail) == (
        False, f"health check answered 502; serves {models['right']} version 1")
    # The front dies too: the next deploy brings it back on the same port.
    os.kill(before.front_pid, signal.SIGKILL)
    assert process.wait_until(lambda: not process.is_alive(before.front_pid), 10)
    assert engine.deployments.health(before) == Health(False, "front not running")

    engine.deploy("phoenix", models["right"])
    after = engine.get("phoenix")
    assert after is not None
    assert after.endpoint == before.endpoint and after.model_pid != before.model_pid
    assert after.front_pid != before.front_pid and after.generation == 2
    assert after.previous is None  # the same model again is no new rollback target
    assert engine.deployments.health(after) == Health(True, "ready")
    assert engine.predict("phoenix", samples.v1()) == {"predictions": samples.right}
    assert all(c.healthy for c in _components(local_stack, "phoenix").values())

    engine.delete("phoenix")
    assert engine.get("phoenix") is None
    assert _components(local_stack, "phoenix") == {}
    assert not process.is_alive(after.front_pid) and not process.is_alive(after.model_pid)
    with pytest.raises(requests.ConnectionError):
        requests.get(after.endpoint.ready_url, timeout=5)
    with pytest.raises(BadInput, match="no deployment named 'phoenix'"):
        engine.delete("phoenix")


def test_bad_names_uris_and_rollbacks_are_refused_before_anything_starts(
    local_stack: Stack, models: dict[str, str], shared: Deployment
) -> None:
    engine = _engine(local_stack)
    with pytest.raises(BadInput, match="invalid deployment name 'Bad_Name'"):
        engine.deploy("Bad_Name", models["right"])
    with pytest.raises(BadInput) as missing:
        engine.deploy("nowhere", "s3://mlpipeline/serving/absent.json")
    assert missing.value.what == "cannot read model s3://mlpipeline/serving/absent.json"
    assert missing.value.why.startswith("NoSuchKey")
    with pytest.raises(BadInput, match="deployment 'shared' has no previous model to roll back to"):
        engine.rollback("shared")
    with pytest.raises(BadInput, match="no deployment named 'absent'"):
        engine.rollback("absent")
    with pytest.raises(BadInput, match="cannot tell the protocol"):
        engine.predict("shared", {"rows": []})
    assert engine.get("nowhere") is None and engine.get("shared") == shared


def test_every_registry_model_name_is_a_valid_deployment_name_and_back() -> None:
    # `serve sync MODEL` deploys the champion of MODEL as deployment MODEL.
    names = ["iris", "churn-v2", "a", "0", "x" * 45, "x" * 46, "my_model", "my.model", "Iris",
             "-a", "a-", ""]

    def accepts(check: Callable[[str], str]) -> list[str]:
        found = []
        for name in names:
            try:
                found.append(check(name))
            except BadInput:
                pass
        return found

    assert accepts(check_model_name) == accepts(validate_name) == [
        "iris", "churn-v2", "a", "0", "x" * 45]


FAKE_SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        data = json.dumps({"ready": True}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_port_taken_before_the_server_binds_is_retried_on_another(
    local_stack: Stack, models: dict[str, str], tmp_path: Any
) -> None:
    from appliance.targets.local.serving.engine import engine as local_engine

    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    calls: list[int] = []

    def command(name: str, uri: str, port: int, run_dir: str) -> list[str]:
        calls.append(port)
        if len(calls) == 1:  # what the stub server says when its port was taken meanwhile
            taken = f"import sys; sys.exit('error: port {port} on 127.0.0.1 is in use')"
            return [sys.executable, "-c", taken, "--run-dir", run_dir]
        return [sys.executable, str(script), str(port), "--run-dir", run_dir]

    engine = local_engine(local_stack, server_command=command)
    engine.deploy("retried", models["right"])
    deployment = engine.get("retried")
    assert deployment is not None and len(calls) == 2
    assert deployment.model_url == f"http://127.0.0.1:{calls[1]}"
    assert engine.deployments.health(deployment) == Health(True, "ready")
    engine.delete("retried")
