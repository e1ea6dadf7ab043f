"""The integration tier's pod stand-ins, checked on their own: the trigger conditions the KFP SDK
compiles are decided as KFP decides them, and a pod's env resolves from the fake cluster as the
kubelet resolves it (no process here)."""

from __future__ import annotations

import base64

import pytest
from fake_cluster import FakeCluster
from google.protobuf import json_format
from kfp_launcher import _holds
from pod_processes import PodNetwork

from appliance.pipelines import loader

CHANNEL = "pipelinechannel--read-accuracy-Output"


def conditions(pipeline: str) -> dict[str, str]:
    """Each task's trigger condition in the compiled reference pipeline."""
    spec = json_format.MessageToDict(loader.load(f"conformance/pipelines/{pipeline}.py").spec)
    dags = [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
    return {name: task["triggerPolicy"]["condition"]
            for dag in dags for name, task in dag.get("tasks", {}).items() if "triggerPolicy" in task}


@pytest.mark.parametrize(("accuracy", "taken"), [
    (0.95, "condition-2"), (0.9, "condition-2"), (0.858383, "condition-3"), (0.8, "condition-3"),
    (0.79, "condition-4"),
])
def test_if_elif_else_takes_exactly_one_branch(accuracy: float, taken: str) -> None:
    compiled = conditions("condition")
    assert sorted(compiled) == ["condition-2", "condition-3", "condition-4"]
    assert {name: _holds(text, {CHANNEL: accuracy}) for name, text in compiled.items()} == {
        name: name == taken for name in compiled}


@pytest.mark.parametrize("promote", [True, False])
def test_a_boolean_output_compared_with_true(promote: bool) -> None:
    [text] = conditions("train_gate_promote").values()
    assert text == "inputs.parameter_values['pipelinechannel--gate-model-promote'] == true"
    assert _holds(text, {"pipelinechannel--gate-model-promote": promote}) is promote


def test_anything_but_comparisons_and_logic_is_refused() -> None:
    assert _holds("", {}) is True
    with pytest.raises(AssertionError, match="cannot evaluate"):
        _holds("inputs.parameter_values['x'] == __import__('os')", {"x": 1})


def secret(name: str, namespace: str, **data: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_a_pods_env_resolves_from_the_cluster_with_in_cluster_addresses_routed() -> None:
    cluster = FakeCluster()
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "work"}}])
    cluster.apply([secret("s3", "work", AWS_ACCESS_KEY_ID="key", AWS_SECRET_ACCESS_KEY="secret"),
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "work"},
                    "data": {"region": "us-east-1"}}])
    network = PodNetwork(cluster, {"minio.object-store.svc.cluster.local:9000": "127.0.0.1:41234"})
    env = network.env("work", [
        {"name": "AWS_ACCESS_KEY_ID",
         "valueFrom": {"secretKeyRef": {"name": "s3", "key": "AWS_ACCESS_KEY_ID"}}},
        {"name": "AWS_DEFAULT_REGION", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "region"}}},
        {"name": "AWS_ENDPOINT_URL", "value": "http://minio.object-store.svc.cluster.local:9000"},
        {"name": "S3_ENDPOINT", "value": "minio.object-store.svc.cluster.local:9000"},
    ])
    assert env == {"AWS_ACCESS_KEY_ID": "key", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ENDPOINT_URL": "http://127.0.0.1:41234", "S3_ENDPOINT": "127.0.0.1:41234"}
    with pytest.raises(AssertionError, match="CreateContainerConfigError: secret 's3' or its key 'absent'"):
        network.env("work", [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "absent"}}}])
