"""Readiness verdicts on API objects, and the staged and webhook waits over the FakeCluster."""

from __future__ import annotations

import pytest
from cluster_objects import container, deployment, namespace, service, webhook_config
from fake_cluster import CRASH_LOOP, FakeCluster, Fault

from appliance.targets.cluster.client import ApiError, ObjRef
from appliance.targets.cluster.readiness import (
    Component,
    NotReady,
    Stage,
    crd_established,
    deployment_ready,
    endpoints_ready,
    stages_for,
    wait_stages,
    wait_webhooks,
    webhooks_waiting,
)
from appliance.targets.cluster.wait import TimedOut


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def test_crd_verdicts() -> None:
    assert crd_established({}).why == "no conditions yet"
    assert not crd_established({"status": {"conditions": [cond("NamesAccepted", "True")]}})
    installing = {"status": {"conditions": [cond("NamesAccepted", "True"),
                                            cond("Established", "False", message="installing")]}}
    assert crd_established(installing).why == "Established=False (installing)"
    done = {"status": {"conditions": [cond("NamesAccepted", "True"), cond("Established", "True")]}}
    assert crd_established(done)


def ready_deployment(**changes: object) -> dict:
    dep = {"metadata": {"generation": 2}, "spec": {"replicas": 1},
           "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1,
                      "conditions": [cond("Available", "True"), cond("Progressing", "True")]}}
    dep["status"].update(changes)
    return dep


def test_deployment_verdicts() -> None:
    assert deployment_ready(ready_deployment())
    assert deployment_ready(ready_deployment(observedGeneration=1)).why == (
        "1/1 available, newer spec not yet observed")
    # A rollout in progress: the old pod still counts in replicas.
    assert not deployment_ready(ready_deployment(replicas=2))
    assert not deployment_ready(ready_deployment(updatedReplicas=0))
    failing = ready_deployment(conditions=[cond("Available", "True"),
                                           cond("ReplicaFailure", "True", "FailedCreate", "forbidden")])
    assert deployment_ready(failing).why == "1/1 available, FailedCreate"
    unavailable = ready_deployment(availableReplicas=0, conditions=[cond("Available", "False")])
    assert deployment_ready(unavailable).why == "0/1 available"
    assert deployment_ready({"spec": {}, "status": {}}).why == "0/1 available"


def test_endpoint_verdicts() -> None:
    assert not endpoints_ready([])
    assert not endpoints_ready([{"endpoints": [{"conditions": {"ready": False}}]}])
    assert endpoints_ready([{"endpoints": [{"conditions": {}}]}])  # absent means ready


def test_stages_of_the_standard_shape() -> None:
    objs = [deployment(n, namespace=ns) for ns, n in
            (("kubeflow", "ml-pipeline"), ("kubeflow", "mysql"), ("object-store", "minio"),
             ("katib", "katib-mysql"), ("katib", "katib-controller"))]
    assert stages_for(objs) == [
        Stage("data stores", (Component("kubeflow", "mysql", 600), Component("object-store", "minio", 180),
                              Component("katib", "katib-mysql", 300))),
        Stage("services", (Component("kubeflow", "ml-pipeline", 300),
                           Component("katib", "katib-controller", 300))),
    ]


def cluster_with(*objs: dict, **knobs: object) -> FakeCluster:
    cluster = FakeCluster(**knobs)
    cluster.apply([namespace("apps"), *objs])
    return cluster


def test_stages_wait_in_order_and_report_what_waits() -> None:
    cluster = cluster_with(deployment("db"), deployment("api"))
    cluster.ready_delays["apps/db"] = 12
    seen: list[tuple[str, float]] = []
    stages = [Stage("data stores", (Component("apps", "db", 60),)),
              Stage("services", (Component("apps", "api", 60),))]
    waited = wait_stages(cluster, stages, cluster.clock, calm=10,
                         on_progress=lambda t, e: seen.append((t, e)))
    assert seen == [
        ("waiting for apps/db (0/1 available, newer spec not yet observed)", 0.0),
        ("waiting for apps/db (0/1 available; container db: running, not ready)", 5.0),
        ("data stores ready; checking that nothing restarts for 10s", 15.0),
        ("services ready; checking that nothing restarts for 10s", 25.0),
    ]
    assert waited == cluster.now == 35


def test_a_component_past_its_timeout_fails_the_stage_with_its_diagnosis() -> None:
    cluster = cluster_with(deployment("db", containers=[container("db", memory="64Gi")]))
    with pytest.raises(NotReady) as caught:
        wait_stages(cluster, [Stage("data stores", (Component("apps", "db", 30),))], cluster.clock)
    assert cluster.now == 30
    assert caught.value.exit_code == 4
    [diagnosis] = caught.value.diagnoses
    assert diagnosis.component == "Deployment apps/db"
    assert diagnosis.hints == ("the node has not enough free memory for the pod's requests; free memory or "
                               "add a node",)
    assert caught.value.render().splitlines()[0] == (
        "data stores not ready in time: not ready: Deployment apps/db (fix: read the diagnosis below; "
        "'appliance diagnose' writes the full bundle)")


def test_a_missing_deployment_is_reported_as_such() -> None:
    cluster = cluster_with()
    with pytest.raises(NotReady) as caught:
        wait_stages(cluster, [Stage("s", (Component("apps", "ghost", 10),))], cluster.clock)
    assert caught.value.diagnoses[0].render() == (
        "✗ Deployment apps/ghost: does not exist\n"
        "  hint: it was never applied or was deleted; run 'appliance up' again")


def test_a_dependent_crash_loop_is_reset_once_after_its_data_store_is_ready() -> None:
    cluster = cluster_with(deployment("db"), deployment("api"))
    cluster.ready_delays["apps/db"] = 90
    # The API crashes while the database initialises (until 100 s): its fourth crash at 76 s
    # backs off 80 s, to 156 s. The database is ready at 93 s and calm at 105 s, when the reset
    # starts a fresh pod that comes up in seconds.
    cluster.fault("apps", "api", Fault(CRASH_LOOP, until=100))
    notes: list[str] = []
    wait_stages(cluster, [Stage("data stores", (Component("apps", "db", 120),)),
                          Stage("services", (Component("apps", "api", 300),))], cluster.clock,
                on_progress=lambda text, _: notes.append(text))
    resets = [n for n in notes if n.startswith("restarted")]
    assert len(resets) == 1 and resets[0].endswith(" once to reset its crash-loop back-off")
    deletes = [args for call, args in cluster.calls if call == "delete"]
    assert len(deletes) == 1 and deletes[0][0].kind == "Pod"
    assert cluster.now == 125


def test_ready_is_accepted_only_after_a_calm_period() -> None:
    cluster = cluster_with(deployment("api"))
    wait_stages(cluster, [Stage("s", (Component("apps", "api", 60),))], cluster.clock, calm=10)
    # The pod is created on the first tick, runs at 3 s and is ready at 6 s; the 10 s poll sees
    # it ready, and the 20 s poll ends 10 calm seconds later.
    assert cluster.now == 20


def test_transient_api_errors_while_polling_are_waited_out() -> None:
    cluster = cluster_with(deployment("api"))
    cluster.fail_next(ApiError(0, "Unreachable", "connection refused"), method="get", times=2)
    seen: list[str] = []
    wait_stages(cluster, [Stage("s", (Component("apps", "api", 60),))], cluster.clock,
                on_progress=lambda text, _: seen.append(text))
    assert seen[0] == "waiting for apps/api (API error: connection refused)"


def test_webhooks_wait_for_ca_bundle_and_endpoints() -> None:
    cluster = cluster_with(service("hook"), deployment("hook"), webhook_config("widgets", "hook", ca=False))
    ref = ObjRef("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "widgets")
    assert webhooks_waiting(cluster, [ref]) == (
        "ValidatingWebhookConfiguration widgets: no caBundle yet (its controller writes it)")
    cluster.ca_injectors["apps/hook"] = ["widgets"]
    wait_webhooks(cluster, [ref], cluster.clock, timeout=60)
    assert webhooks_waiting(cluster, [ref]) is None
    missing = ObjRef("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "gone")
    with pytest.raises(TimedOut) as caught:
        wait_webhooks(cluster, [missing], cluster.clock, timeout=4)
    assert caught.value.waiting == "ValidatingWebhookConfiguration gone not found"


def test_webhooks_name_a_service_without_ready_endpoints() -> None:
    cluster = cluster_with(service("hook"), webhook_config("widgets", "hook"))
    cluster.advance(1)
    ref = ObjRef("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "widgets")
    assert webhooks_waiting(cluster, [ref]) == (
        "ValidatingWebhookConfiguration widgets: service apps/hook has no ready endpoints")
