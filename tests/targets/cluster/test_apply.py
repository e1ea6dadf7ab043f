"""Phased apply over the FakeCluster: order, namespaces, Secrets as data, retries and their limits."""

from __future__ import annotations

import base64

import pytest
from cluster_objects import crd, custom, deployment, namespace, secret, service, webhook_config
from fake_cluster import FakeCluster

from appliance.errors import MissingPrerequisite
from appliance.targets.cluster.apply import (
    ApplyFailed,
    apply_all,
    apply_builtins,
    apply_custom,
    apply_foundation,
    data_only,
    delete_all,
    plan,
)
from appliance.targets.cluster.client import ApiError, ObjRef
from appliance.targets.cluster.wait import TimedOut


def bundle() -> list[dict]:
    storage = custom("default", namespace="apps", kind="Store", api_version="example.dev/v1")
    return [
        webhook_config("widgets", "hook"),
        custom("w1"),
        service("hook"),
        deployment("hook"),
        secret("creds"),
        storage,
        crd(),
        crd(kind="Store", plural="stores", scope="Cluster"),
        namespace("apps"),
    ]


def names(objs: list[dict]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


def test_plan_splits_phases_in_dependency_order_and_strips_cluster_scoped_namespaces() -> None:
    steps = plan(bundle())
    assert names(steps.foundation) == ["Namespace/apps", "CustomResourceDefinition/stores.example.dev",
                                       "CustomResourceDefinition/widgets.example.dev"]
    assert names(steps.builtins) == ["Secret/creds", "Deployment/hook", "Service/hook",
                                     "ValidatingWebhookConfiguration/widgets"]
    assert names(steps.custom) == ["Store/default", "Widget/w1"]
    store = steps.custom[0]
    assert "namespace" not in store["metadata"]  # a cluster-scoped kind per its CRD
    assert steps.custom[1]["metadata"]["namespace"] == "apps"
    assert steps.crds == ["stores.example.dev", "widgets.example.dev"]


def test_secrets_are_sent_as_base64_data() -> None:
    original = {**secret("s", data={"keep": "a2VlcA=="}), "stringData": {"password": "pä ss", "keep": "new"}}
    converted = data_only(original)
    assert "stringData" not in converted
    assert converted["data"] == {"keep": base64.b64encode(b"new").decode(),
                                 "password": base64.b64encode("pä ss".encode()).decode()}
    assert "stringData" in original  # the caller's object is untouched
    assert "stringData" not in plan([namespace("apps"), original]).builtins[0]


def test_apply_all_converges_with_late_crds_and_a_webhook_not_yet_serving() -> None:
    cluster = FakeCluster(crd_established_after=4, webhook_listen_after=2)
    progress: list[tuple[str, float]] = []
    apply_all(cluster, bundle(), cluster.clock, on_progress=lambda text, t: progress.append((text, t)))
    assert cluster.get(ObjRef("example.dev/v1", "Widget", "w1", "apps")) is not None
    assert cluster.get(ObjRef("example.dev/v1", "Store", "default")) is not None
    assert progress[0] == ("CRDs not established: stores.example.dev (no conditions yet), "
                           "widgets.example.dev (no conditions yet)", 0.0)
    webhook_waits = [text for text, _ in progress if "waiting for its admission webhook" in text]
    assert webhook_waits[0].startswith("Widget apps/w1: waiting for its admission webhook (Internal error "
                                       'occurred: failed calling webhook "validate.widgets"')
    # Every apply carried the appliance's field manager and force (kubectl's --force-conflicts).
    applies = [args for call, args in cluster.calls if call == "apply"]
    assert {(manager, force) for _, manager, force in applies} == {("appliance", True)}


def test_transient_failures_are_retried_three_times_with_growing_delays() -> None:
    cluster = FakeCluster()
    steps = plan([namespace("apps"), secret("creds")])
    apply_foundation(cluster, steps, cluster.clock)
    unavailable = ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    cluster.fail_next(unavailable, times=3)
    apply_builtins(cluster, steps, cluster.clock)
    assert cluster.clock.slept == [2.0, 5.0, 10.0]
    assert cluster.get(ObjRef("v1", "Secret", "creds", "apps")) is not None


def test_a_fourth_transient_failure_names_the_object_and_the_server_message() -> None:
    cluster = FakeCluster()
    steps = plan([namespace("apps"), secret("creds")])
    apply_foundation(cluster, steps, cluster.clock)
    cluster.fail_next(ApiError(500, "InternalError", "etcdserver: request timed out"), times=4)
    with pytest.raises(ApplyFailed) as caught:
        apply_builtins(cluster, steps, cluster.clock)
    assert caught.value.exit_code == 4
    assert caught.value.render() == (
        "cannot apply Secret apps/creds: 500 InternalError: etcdserver: request timed out (still failing "
        "after 3 retries) (fix: fix the object (catalog or profile) or the cluster, then run 'appliance up' "
        "again)")


def test_a_refusal_that_is_not_transient_fails_at_once() -> None:
    cluster = FakeCluster()
    with pytest.raises(ApplyFailed) as caught:
        apply_all(cluster, [secret("creds", namespace="nowhere")], cluster.clock)
    assert caught.value.what == "cannot apply Secret nowhere/creds"
    assert caught.value.why == '404 NotFound: namespaces "nowhere" not found'
    assert cluster.clock.slept == []


def test_crds_that_never_establish_time_out_with_their_state() -> None:
    cluster = FakeCluster(crd_established_after=1000)
    with pytest.raises(TimedOut) as caught:
        apply_foundation(cluster, plan([crd()]), cluster.clock, crd_timeout=60)
    assert caught.value.waiting == ("CRDs not established: widgets.example.dev (Established=False "
                                    "(the API is being installed))")


def test_custom_resources_give_up_after_their_timeout_with_the_last_refusal() -> None:
    cluster = FakeCluster()
    steps = plan([namespace("apps"), crd(), webhook_config("widgets", "hook"), custom("w1")])
    apply_foundation(cluster, steps, cluster.clock)
    apply_builtins(cluster, steps, cluster.clock)
    start = cluster.now
    with pytest.raises(ApplyFailed) as caught:
        apply_custom(cluster, steps, cluster.clock, timeout=20, interval=5)
    assert cluster.now - start == 20
    assert caught.value.why.endswith('service "hook" not found (still refused after 20s)')


def test_an_invalid_custom_resource_is_not_retried() -> None:
    cluster = FakeCluster()
    steps = plan([namespace("apps"), crd(), custom("w1")])
    apply_foundation(cluster, steps, cluster.clock)
    invalid = 'Widget.example.dev "w1" is invalid: spec.size: Invalid value'
    cluster.fail_next(ApiError(422, "Invalid", invalid))
    before = cluster.now
    with pytest.raises(ApplyFailed) as caught:
        apply_custom(cluster, steps, cluster.clock)
    assert caught.value.why == '422 Invalid: Widget.example.dev "w1" is invalid: spec.size: Invalid value'
    assert cluster.now == before


def test_a_kind_the_cluster_does_not_serve_is_a_missing_prerequisite() -> None:
    cluster = FakeCluster()
    with pytest.raises(MissingPrerequisite) as caught:
        apply_all(cluster, [namespace("apps"), custom("w1")], cluster.clock)
    assert caught.value.exit_code == 3
    assert caught.value.render() == (
        "cannot apply Widget apps/w1: the cluster does not serve Widget (example.dev/v1): no matches for "
        'kind "Widget" in version "example.dev/v1" (fix: install the CRD that defines it (or use a '
        "Kubernetes version that serves it), or remove the object)")


def test_delete_all_goes_in_reverse_keeps_crds_and_waits_for_namespaces() -> None:
    cluster = FakeCluster(namespace_delete_after=5)
    apply_all(cluster, bundle(), cluster.clock)
    start = cluster.now
    deleted = delete_all(cluster, bundle(), cluster.clock)
    assert [f"{r.kind}/{r.name}" for r in deleted] == [
        "Widget/w1", "Store/default", "ValidatingWebhookConfiguration/widgets", "Service/hook",
        "Deployment/hook", "Secret/creds", "Namespace/apps"]
    assert cluster.now - start == 6  # namespace gone after 5 s, seen at the 6 s poll
    assert cluster.get(ObjRef("v1", "Namespace", "apps")) is None
    crd_ref = ObjRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.dev")
    assert cluster.get(crd_ref) is not None
    assert delete_all(cluster, bundle(), cluster.clock) == []  # idempotent
    again = delete_all(cluster, bundle(), cluster.clock, delete_crds=True)
    assert [r.name for r in again] == ["widgets.example.dev", "stores.example.dev"]
