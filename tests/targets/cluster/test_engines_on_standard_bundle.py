"""The tuning and serving engines on the real rendered standard bundle (applied to FakeCluster as
the kind target applies it), with the fake Katib and KServe controllers: Katib's and KServe's own
webhooks, the bundle's katib-config, ClusterStorageContainer and workload namespace, and Pod
Security restricted on every trial and predictor pod."""

from __future__ import annotations

from typing import Any

import pytest
from fake_cluster import FakeCluster
from fake_controllers import FakeForwards, FakeKatib, FakeKServe

from appliance.render.bundle import sort_key
from appliance.serving.records import ModelRef
from appliance.targets.cluster.apply import apply_builtins, apply_custom, apply_foundation, plan
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.readiness import stages_for, wait_stages, wait_webhooks
from appliance.targets.cluster.serving import InferenceServices
from appliance.targets.cluster.settings import WORKLOAD_NAMESPACE
from appliance.targets.cluster.tuning import ClusterTuningEngine
from appliance.targets.cluster.workloads import in_cluster_endpoint, workload_objects
from conformance.experiments import manifest

Objs = list[dict[str, Any]]
IMAGE = "appliance-stubs:test"


@pytest.fixture
def fake(standard_objects: Objs) -> FakeCluster:
    cluster = FakeCluster(crd_names_after=2, crd_established_after=8)
    cluster.ca_injectors["katib/katib-controller"] = ["katib.kubeflow.org"]
    steps = plan(standard_objects)
    apply_foundation(cluster, steps, cluster.clock)
    apply_builtins(cluster, steps, cluster.clock)
    wait_stages(cluster, stages_for(standard_objects), cluster.clock)
    webhooks = [ObjRef.of(o) for o in standard_objects if o["kind"].endswith("WebhookConfiguration")]
    wait_webhooks(cluster, webhooks, cluster.clock)
    apply_custom(cluster, steps, cluster.clock)
    # What the target applies at `up` besides the bundle (sorted as the bundle would be).
    cluster.apply(sorted(workload_objects(("appliance-tuning", "tuning-secret"),
                                          ("appliance-serving", "serving-secret")), key=sort_key))
    cluster.controllers += [FakeKatib(), FakeKServe()]
    return cluster


def test_kserves_credentials_config_matches_the_workload_secret(standard_objects: Objs) -> None:
    import json

    [config] = [o for o in standard_objects if o["kind"] == "ConfigMap"
                and o["metadata"]["name"] == "inferenceservice-config"]
    s3 = json.loads(config["data"]["credentials"])["s3"]
    _, secret, _ = workload_objects(("t", "ts"), ("s", "ss"))
    assert sorted(secret["data"]) == sorted([s3["s3AccessKeyIDName"], s3["s3SecretAccessKeyName"]])
    assert secret["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"] == s3["s3Endpoint"] == \
        in_cluster_endpoint()
    namespaces = {o["metadata"]["name"] for o in standard_objects if o["kind"] == "Namespace"}
    assert WORKLOAD_NAMESPACE in namespaces


def test_the_grid_experiment_runs_under_katibs_webhooks_and_pod_security(fake: FakeCluster) -> None:
    engine = ClusterTuningEngine(fake, fake.clock, stubs_image=IMAGE)
    result = engine.run(manifest("grid"))
    assert (result.condition["reason"], result.best["parameterAssignments"]) == (
        "ExperimentGoalReached", [{"name": "lr", "value": "0.01"}, {"name": "depth", "value": "6"}])
    # No trial's pod was refused by Pod Security restricted.
    assert [e for e in fake.events(WORKLOAD_NAMESPACE) if e["reason"] == "FailedCreate"] == []


def test_a_model_is_deployed_rolled_out_and_deleted_under_kserves_webhooks(fake: FakeCluster) -> None:
    versions = {"s3://mlpipeline/models/iris/1/model.json": "1",
                "s3://mlpipeline/models/iris/2/model.json": "2"}
    forwards = FakeForwards(fake, versions)
    backend = InferenceServices(fake, forwards, lambda uri: ModelRef(uri, versions[uri]), fake.clock, IMAGE,
                                served=forwards.served_version)
    first, second = sorted(versions)
    assert backend.deploy("iris", first).model.version == "1"
    assert backend.deploy("iris", second).previous == ModelRef(first, "1")
    # The predictor pods passed the KServe and Katib pod webhooks and Pod Security restricted,
    # with the bundle's ClusterStorageContainer as their storage-initializer.
    [pod] = [p for p in fake.list("v1", "Pod", WORKLOAD_NAMESPACE)
             if not p["metadata"].get("deletionTimestamp")]
    [init] = pod["spec"]["initContainers"]
    assert init["securityContext"]["runAsNonRoot"] is True and init["args"] == [second, "/mnt/models"]
    assert [e for e in fake.events(WORKLOAD_NAMESPACE) if e["reason"] == "FailedCreate"] == []
    backend.delete("iris")
    assert fake.list("v1", "Pod", WORKLOAD_NAMESPACE) == []
