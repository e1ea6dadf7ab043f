"""Nothing the appliance sends to a cluster loses a field on the way in.

A real API server prunes what a CRD's structural schema does not declare, and drops (with only a
warning) what a built-in kind does not have; FakeCluster does the same and records each loss in
`cluster.warnings`. Here the real rendered standard profile is brought up with the bring-up's own
actions, in the kind target's order (render, namespaces and CRDs, the rest, readiness, webhooks,
custom resources, the workloads' access Secrets and ServiceAccount), then the tuning engine runs
a Katib Experiment and the serving engine deploys, rolls out and rolls back an InferenceService,
under Katib's and KServe's fake controllers. A misspelled or misplaced field anywhere in that
path fails here instead of silently vanishing on a real cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_cluster import FakeCluster
from fake_controllers import FakeForwards, FakeKatib, FakeKServe
from kind_machine import STACK

from appliance.config import profile as profiles
from appliance.console import Console
from appliance.runtime.state import RunDir
from appliance.serving.records import ModelRef
from appliance.targets.cluster import bringup
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.serving import InferenceServices
from appliance.targets.cluster.settings import WORKLOAD_NAMESPACE, ClusterSettings
from appliance.targets.cluster.tuning import ClusterTuningEngine
from appliance.targets.interface import UpOptions
from conformance.experiments import manifest

IMAGE = "appliance-stubs:test"


class NoForwards:
    """The bring-up stops before its port-forwards here: nothing after them applies objects."""

    def start(self, *args: Any) -> tuple[int, dict[str, int]]:
        raise AssertionError("not reached")

    def stop(self, *args: Any) -> None:
        return None

    def alive(self, *args: Any) -> bool:
        return False


def bring_up(cluster: FakeCluster, bundle: Any) -> bringup.ClusterUp:
    """Every bring-up action that applies objects, on the rendered `bundle`, as `up` runs them."""
    run_dir = RunDir(STACK)
    run_dir.create()
    ctx = bringup.ClusterUp(
        STACK, profiles.load("standard"), UpOptions(), run_dir, Console(quiet=True),
        ClusterSettings(run_dir.path / "kubeconfig", "kind-appliance-dev"), lambda settings: cluster,
        cluster.clock, NoForwards(), lambda profile: bundle, started=cluster.clock.monotonic())
    bringup.render(ctx)
    for action in bringup.stack_actions():
        if action.run is bringup.start_forwards:
            break
        action.run(ctx)
    return ctx


@pytest.fixture
def cluster(standard_bundle: Any) -> FakeCluster:
    fake = FakeCluster(crd_names_after=2, crd_established_after=8)
    fake.ca_injectors["katib/katib-controller"] = ["katib.kubeflow.org"]
    ctx = bring_up(fake, standard_bundle)
    # The bring-up applied the workloads' access objects besides the bundle.
    applied = {(o["kind"], o["metadata"]["name"]) for o in ctx.objects}
    assert {("Secret", "appliance-s3-tuning"), ("Secret", "appliance-s3-serving"),
            ("ServiceAccount", "appliance-models"), ("Secret", "appliance-s3-pipelines")} <= applied
    fake.controllers += [FakeKatib(), FakeKServe()]
    return fake


def test_the_bring_up_an_experiment_and_a_served_model_lose_no_field(cluster: FakeCluster) -> None:
    assert cluster.warnings == []

    result = ClusterTuningEngine(cluster, cluster.clock, stubs_image=IMAGE).run(manifest("grid"))
    assert result.condition["reason"] == "ExperimentGoalReached"

    versions = {"s3://mlpipeline/models/iris/1/model.json": "1",
                "s3://mlpipeline/models/iris/2/model.json": "2"}
    forwards = FakeForwards(cluster, versions)
    backend = InferenceServices(cluster, forwards, lambda uri: ModelRef(uri, versions[uri]), cluster.clock,
                                IMAGE, served=forwards.served_version)
    first, second = sorted(versions)
    backend.deploy("iris", first)
    assert backend.rollout("iris", second).model.version == "2"
    assert backend.rollback("iris").model.version == "1"
    # Katib's and KServe's fake controllers applied their objects through the same checks.
    assert cluster.list("kubeflow.org/v1beta1", "Trial", WORKLOAD_NAMESPACE)
    assert cluster.list("batch/v1", "Job", WORKLOAD_NAMESPACE)
    assert cluster.get(ObjRef("apps/v1", "Deployment", "iris-predictor", WORKLOAD_NAMESPACE)) is not None

    assert cluster.warnings == []
    # The InferenceService kept every field the serving engine set (what KServe acts on).
    isvc = cluster.stored("serving.kserve.io/v1beta1", "InferenceService", "iris", WORKLOAD_NAMESPACE)
    predictor = isvc["spec"]["predictor"]
    assert sorted(predictor) == ["containers", "deploymentStrategy", "maxReplicas", "minReplicas",
                                 "serviceAccountName"]
    assert sorted(predictor["containers"][0]) == ["args", "command", "env", "image", "imagePullPolicy",
                                                  "name", "ports", "readinessProbe", "resources",
                                                  "securityContext"]
