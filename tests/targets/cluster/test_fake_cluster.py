"""The fake refuses what a real API server refuses, and its controllers move as real ones do.

These tests keep FakeCluster honest: every other cluster test is only as meaningful as it is.
"""

from __future__ import annotations

import pytest
from cluster_objects import (
    RESTRICTED_CONTAINER,
    container,
    crd,
    custom,
    deployment,
    namespace,
    secret,
    service,
    webhook_config,
)
from fake_cluster import CRASH_LOOP, IMAGE_PULL, NEVER_READY, FakeCluster, Fault, psa_message

from appliance.targets.cluster.client import ApiError, Conflict, NotFound, ObjRef

WIDGET = ObjRef("example.dev/v1", "Widget", "w1", "apps")


def started(**knobs: object) -> FakeCluster:
    cluster = FakeCluster(**knobs)
    cluster.apply([namespace("apps")])
    return cluster


def pods(cluster: FakeCluster, ns: str = "apps") -> list[dict]:
    return cluster.list("v1", "Pod", ns)


def waiting_reason(cluster: FakeCluster) -> str:
    return pods(cluster)[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]


def conditions_of(cluster: FakeCluster, deployment_name: str) -> dict[str, dict]:
    stored = cluster.stored("apps/v1", "Deployment", deployment_name, "apps")
    return {c["type"]: c for c in stored["status"]["conditions"]}


def test_custom_resources_are_refused_until_their_crd_is_established() -> None:
    cluster = started()
    with pytest.raises(NotFound) as early:
        cluster.apply([custom("w1")])
    assert early.value.message == 'no matches for kind "Widget" in version "example.dev/v1"'
    cluster.apply([crd()])
    crd_ref = ObjRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.dev")
    assert "status" not in cluster.get(crd_ref)
    with pytest.raises(NotFound):
        cluster.apply([custom("w1")])
    cluster.advance(1)
    conditions = cluster.get(crd_ref)["status"]["conditions"]
    assert [(c["type"], c["status"]) for c in conditions] == [("NamesAccepted", "True"),
                                                              ("Established", "False")]
    with pytest.raises(NotFound):
        cluster.apply([custom("w1")])
    cluster.advance(2)
    assert cluster.apply([custom("w1")])[0]["metadata"]["generation"] == 1
    assert cluster.get(WIDGET)["spec"] == {"size": 1}


def test_scope_cluster_objects_lose_their_namespace_and_namespaced_need_theirs() -> None:
    cluster = started()
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "reader", "namespace": "apps"}, "rules": []}
    assert "namespace" not in cluster.apply([role])[0]["metadata"]
    with pytest.raises(NotFound) as caught:
        cluster.apply([secret("s", namespace="missing")])
    assert (caught.value.status, caught.value.message) == (404, 'namespaces "missing" not found')


def test_apply_requires_a_field_manager() -> None:
    cluster = started()
    with pytest.raises(ApiError) as caught:
        cluster.apply([secret("s")], field_manager="")
    assert (caught.value.status, caught.value.message) == (400, "fieldManager is required for apply requests")


def test_generation_bumps_on_spec_changes_only_and_a_no_op_apply_changes_nothing() -> None:
    cluster = started()
    first = cluster.apply([deployment("web")])[0]
    assert first["metadata"]["generation"] == 1
    again = cluster.apply([deployment("web")])[0]
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    labelled = deployment("web")
    labelled["metadata"]["labels"] = {"team": "ml"}
    after_label = cluster.apply([labelled])[0]
    assert after_label["metadata"]["generation"] == 1
    assert after_label["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]
    scaled = deployment("web", replicas=2)
    scaled["metadata"]["labels"] = {"team": "ml"}
    assert cluster.apply([scaled])[0]["metadata"]["generation"] == 2


def test_another_managers_fields_conflict_unless_forced() -> None:
    cluster = started()
    cluster.apply([deployment("web", replicas=1)], field_manager="kubectl-client-side-apply")
    with pytest.raises(Conflict) as caught:
        cluster.apply([deployment("web", replicas=3)], force=False)
    assert caught.value.status == 409
    assert caught.value.message == ("Apply failed with 1 conflict: - conflict with "
                                    '"kubectl-client-side-apply" using apps/v1: .spec.replicas')
    taken = cluster.apply([deployment("web", replicas=3)], force=True)[0]
    assert taken["spec"]["replicas"] == 3
    managers = [m["manager"] for m in taken["metadata"]["managedFields"]]
    assert managers == ["appliance", "kubectl-client-side-apply"]
    # The same value is not a conflict: both managers may own it.
    cluster.apply([deployment("web", replicas=3)], field_manager="other", force=False)


def test_fields_dropped_from_the_applied_config_are_removed_but_named_items_merge() -> None:
    cluster = started()
    cluster.apply([deployment("web", containers=[container("web", env=[{"name": "A", "value": "1"}])])])
    # Another manager adds an env var to the same container (lists of named items merge by name).
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
             "spec": {"template": {"spec": {"containers": [
                 {"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}}
    cluster.apply([patch], field_manager="injector")
    cluster.apply([deployment("web", containers=[container("web")])])
    stored = cluster.stored("apps/v1", "Deployment", "web", "apps")
    env = stored["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "B", "value": "2"}]


def test_refuses_string_data_and_last_applied_configuration_and_oversized_annotations() -> None:
    cluster = started()
    with_string_data = {**secret("s"), "stringData": {"password": "x"}}
    with pytest.raises(ApiError, match="stringData refused"):
        cluster.apply([with_string_data])
    annotated = secret("s")
    annotated["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    with pytest.raises(ApiError, match="must never be sent"):
        cluster.apply([annotated])
    annotated["metadata"]["annotations"] = {"big": "x" * 262145}
    with pytest.raises(ApiError) as caught:
        cluster.apply([annotated])
    assert caught.value.message == "metadata.annotations: Too long: must have at most 262144 bytes"


def test_webhooks_refuse_covered_objects_until_their_backend_serves() -> None:
    cluster = started(webhook_listen_after=2.0)
    cluster.apply([crd()])
    cluster.advance(3)
    cluster.apply([webhook_config("widgets", "widget-webhook")])
    prefix = ('Internal error occurred: failed calling webhook "validate.widgets": failed to call webhook: '
              'Post "https://widget-webhook.apps.svc:443/validate?timeout=10s": ')

    def refusal() -> str:
        with pytest.raises(ApiError) as caught:
            cluster.apply([custom("w1")])
        assert caught.value.status == 500
        assert caught.value.message.startswith(prefix)
        return caught.value.message[len(prefix):]

    assert refusal() == 'service "widget-webhook" not found'
    cluster.apply([service("widget-webhook"), deployment("widget-webhook")])
    assert refusal() == 'no endpoints available for service "widget-webhook"'

    def serving() -> bool:
        slices = cluster.list("discovery.k8s.io/v1", "EndpointSlice", "apps")
        return any(e["conditions"]["ready"] for s in slices for e in s["endpoints"])

    cluster.run_until(serving)
    assert refusal() == "dial tcp 10.96.0.10:443: connect: connection refused"
    cluster.advance(2)
    cluster.apply([custom("w1")])


def test_a_webhook_without_ca_bundle_fails_tls_and_ignore_policy_never_blocks() -> None:
    cluster = started()
    cluster.apply([crd(), service("hook"), deployment("hook")])
    cluster.advance(20)
    cluster.apply([webhook_config("widgets", "hook", ca=False)])
    with pytest.raises(ApiError, match="x509: certificate signed by unknown authority"):
        cluster.apply([custom("w1")])
    cluster.apply([webhook_config("widgets", "hook", ca=False, failure_policy="Ignore")])
    cluster.apply([custom("w1")])


def test_a_ca_injector_fills_bundles_without_the_appliance_clobbering_them() -> None:
    cluster = started()
    cluster.ca_injectors["apps/hook"] = ["widgets"]
    cluster.apply([crd(), service("hook"), deployment("hook"), webhook_config("widgets", "hook", ca=False)])
    cluster.advance(20)
    cluster.apply([webhook_config("widgets", "hook", ca=False)])  # the appliance re-applies
    stored = cluster.stored("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "widgets")
    assert stored["webhooks"][0]["clientConfig"]["caBundle"] == "ZmFrZS1jYQ=="
    cluster.apply([custom("w1")])


def test_pod_security_refusal_becomes_replica_failure_and_failed_create() -> None:
    cluster = started()
    cluster.apply([deployment("root", containers=[container("app", security={})])])
    cluster.advance(2)
    assert pods(cluster) == []
    failure = conditions_of(cluster, "root")["ReplicaFailure"]
    rs = cluster.list("apps/v1", "ReplicaSet", "apps")[0]["metadata"]["name"]
    assert failure["reason"] == "FailedCreate" and failure["message"].startswith(f'pods "{rs}-')
    message = failure["message"]
    assert message.split(" is forbidden: ", 1)[1] == (
        'violates PodSecurity "restricted:v1.32": allowPrivilegeEscalation != false (container "app" must '
        'set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "app" '
        'must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"), unrestricted capabilities '
        '(container "app" must set securityContext.capabilities.drop=["ALL"])')
    # The ReplicaSet controller retries with a new pod name each time; the latest attempt's
    # refusal is the condition's message.
    events = [e for e in cluster.events("apps") if e["reason"] == "FailedCreate"]
    assert {e["involvedObject"]["kind"] for e in events} == {"ReplicaSet"}
    assert len(events) == 2
    assert events[-1]["message"] == f"Error creating: {message}"


def test_pod_security_follows_the_namespace_level() -> None:
    baseline = {"pod-security.kubernetes.io/enforce": "baseline"}
    loose = deployment("x", containers=[container("c", security={})])
    host = deployment("x", containers=[container("c", security={})], hostNetwork=True)
    assert psa_message(_pod(loose), "baseline", "latest") is None
    assert psa_message(_pod(host), "baseline", "latest") == (
        'pods "p" is forbidden: violates PodSecurity "baseline:latest": hostNamespaces '
        "(pod sets hostNetwork=true)")
    cluster = FakeCluster()
    cluster.apply([namespace("apps", baseline), loose])
    cluster.advance(2)
    assert len(pods(cluster)) == 1


def _pod(dep: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": dep["spec"]["template"]["spec"]}


def test_pods_become_ready_on_schedule_and_endpoints_follow_them() -> None:
    cluster = started(container_start_after=2, ready_after=3)
    cluster.apply([deployment("web"), service("web")])
    states = []
    for _ in range(6):
        cluster.advance(1)
        pod = pods(cluster)[0]
        states.append((pod["status"]["phase"], pod["status"]["conditions"][-1]["status"]))
    assert states == [("Pending", "False"), ("Pending", "False"), ("Running", "False"), ("Running", "False"),
                      ("Running", "False"), ("Running", "True")]
    slice_ = cluster.list("discovery.k8s.io/v1", "EndpointSlice", "apps",
                          {"kubernetes.io/service-name": "web"})
    assert [e["conditions"]["ready"] for e in slice_[0]["endpoints"]] == [True]
    dep = cluster.get(ObjRef("apps/v1", "Deployment", "web", "apps"))
    assert dep["status"]["availableReplicas"] == 1
    # A deleted pod terminates (its endpoint turns unready) and the ReplicaSet replaces it.
    old = pods(cluster)[0]["metadata"]["name"]
    assert cluster.delete(ObjRef("v1", "Pod", old, "apps"))
    cluster.advance(1)
    slice_ = cluster.list("discovery.k8s.io/v1", "EndpointSlice", "apps")[0]
    assert {e["targetRef"]["name"]: e["conditions"]["terminating"] for e in slice_["endpoints"]}[old] is True
    cluster.advance(10)
    assert [p["metadata"]["name"] != old for p in pods(cluster)] == [True]


def test_image_pull_fails_offline_unless_loaded_and_always_or_digests_defeat_preloading() -> None:
    pinned = "registry.example/app:1.0@sha256:" + "a" * 64
    cluster = started(offline=True, loaded_images=["registry.example/app:1.0", pinned])
    always = container("always", imagePullPolicy="Always")
    cluster.apply([deployment("ok"), deployment("always", containers=[always]),
                   deployment("pinned", containers=[container("pinned", image=pinned)]),
                   deployment("absent", containers=[container("absent", image="registry.example/x:2")])])
    cluster.advance(10)
    by_app = {p["metadata"]["labels"]["app"]: p for p in pods(cluster)}
    assert by_app["ok"]["status"]["containerStatuses"][0]["ready"] is True
    for app in ("pinned", "absent"):
        state = by_app[app]["status"]["containerStatuses"][0]["state"]
        assert state["waiting"]["reason"] == "ImagePullBackOff"
    waiting = by_app["always"]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "ImagePullBackOff",
                       "message": 'Back-off pulling image "registry.example/app:1.0"'}


def test_scripted_image_pull_fault() -> None:
    cluster = started()
    cluster.fault("apps", "web", Fault(IMAGE_PULL))
    cluster.apply([deployment("web")])
    cluster.advance(3)
    assert waiting_reason(cluster) == "ErrImagePull"
    cluster.advance(3)
    assert waiting_reason(cluster) == "ImagePullBackOff"


def test_crash_loop_counts_restarts_backs_off_and_keeps_the_previous_log() -> None:
    cluster = started()
    cluster.fault("apps", "db", Fault(CRASH_LOOP, previous_log="starting\nerror: cannot reach mysql\n"))
    cluster.apply([deployment("db")])
    cluster.advance(40)
    pod = pods(cluster)[0]
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 3
    assert status["lastState"] == {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    message = status["state"]["waiting"]["message"]
    assert message.startswith("back-off 40s restarting failed container=db pod=")
    name = pod["metadata"]["name"]
    assert cluster.pod_logs("apps", name, previous=True, tail=1) == "error: cannot reach mysql\n"
    with pytest.raises(ApiError) as caught:
        cluster.pod_logs("apps", name)
    assert caught.value.message == f'container "db" in pod "{name}" is waiting to start: CrashLoopBackOff'


def test_previous_log_of_a_container_that_never_restarted_is_a_bad_request() -> None:
    cluster = started()
    cluster.apply([deployment("web")])
    cluster.advance(6)
    name = pods(cluster)[0]["metadata"]["name"]
    with pytest.raises(ApiError) as caught:
        cluster.pod_logs("apps", name, previous=True)
    assert (caught.value.status, caught.value.message) == (
        400, f'previous terminated container "web" in pod "{name}" not found')


def test_requests_beyond_the_node_are_unschedulable() -> None:
    cluster = started(node_memory=1024**3)
    cluster.apply([deployment("big", containers=[container("big", memory="2Gi")])])
    cluster.advance(2)
    pod = pods(cluster)[0]
    assert pod["status"]["phase"] == "Pending"
    event = [e for e in cluster.events("apps") if e["reason"] == "FailedScheduling"][0]
    assert event["message"] == ("0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are "
                                "available: 1 No preemption victims found for incoming pod.")
    assert event["involvedObject"]["name"] == pod["metadata"]["name"]


def test_config_errors_come_from_missing_secret_keys_and_root_images() -> None:
    cluster = started(root_images=["docker.io/library/mysql:8.4"])
    as_image_user = {k: v for k, v in RESTRICTED_CONTAINER.items() if k != "runAsUser"}
    env = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    cluster.apply([secret("db", data={"user": "dXNlcg=="}),
                   deployment("api", containers=[container("api", env=env)]),
                   deployment("mysql", containers=[container("mysql", image="docker.io/library/mysql:8.4",
                                                             security=as_image_user)])])
    cluster.advance(4)
    by_app = {p["metadata"]["labels"]["app"]: p for p in pods(cluster)}
    api = by_app["api"]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert api == {"reason": "CreateContainerConfigError",
                   "message": "couldn't find key password in Secret apps/db"}
    mysql = by_app["mysql"]
    message = mysql["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    pod_id = f'{mysql["metadata"]["name"]}_apps({mysql["metadata"]["uid"]})'
    assert message == ("container has runAsNonRoot and image will run as root "
                       f'(pod: "{pod_id}", container: mysql)')


def test_missing_secret_volume_is_a_failed_mount() -> None:
    cluster = started()
    cluster.apply([deployment("web", volumes=[{"name": "certs", "secret": {"secretName": "tls"}}])])
    cluster.advance(4)
    assert waiting_reason(cluster) == "ContainerCreating"
    event = [e for e in cluster.events("apps") if e["reason"] == "FailedMount"][0]
    assert event["message"] == 'MountVolume.SetUp failed for volume "certs" : secret "tls" not found'


def test_a_pod_that_never_gets_ready_exceeds_the_progress_deadline() -> None:
    cluster = started()
    cluster.fault("apps", "web", Fault(NEVER_READY))
    web = deployment("web")
    web["spec"]["progressDeadlineSeconds"] = 30
    cluster.apply([web])
    cluster.advance(20)
    assert conditions_of(cluster, "web")["Progressing"]["reason"] == "ReplicaSetUpdated"
    cluster.advance(20)
    progressing = conditions_of(cluster, "web")["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert [e["message"] for e in cluster.events("apps") if e["reason"] == "Unhealthy"] == [
        "Readiness probe failed: HTTP probe failed with statuscode: 503"]


def test_a_terminating_namespace_refuses_new_content_then_disappears() -> None:
    cluster = started(namespace_delete_after=5)
    cluster.apply([secret("s")])
    assert cluster.delete(ObjRef("v1", "Namespace", "apps"))
    with pytest.raises(ApiError) as caught:
        cluster.apply([secret("t")])
    assert caught.value.status == 403
    assert caught.value.message == ('secrets "t" is forbidden: unable to create new content in namespace '
                                    "apps because it is being terminated")
    cluster.advance(5)
    assert cluster.get(ObjRef("v1", "Namespace", "apps")) is None
    assert cluster.get(ObjRef("v1", "Secret", "s", "apps")) is None
    assert cluster.delete(ObjRef("v1", "Namespace", "apps")) is False


def test_events_filter_by_object_and_lists_by_label() -> None:
    cluster = started()
    cluster.apply([deployment("a"), deployment("b")])
    cluster.advance(1)
    pod_a = [p for p in pods(cluster) if p["metadata"]["labels"]["app"] == "a"][0]["metadata"]["name"]
    about_a = cluster.events("apps", ObjRef("v1", "Pod", pod_a, "apps"))
    assert {e["involvedObject"]["name"] for e in about_a} == {pod_a}
    assert [p["metadata"]["labels"]["app"] for p in cluster.list("v1", "Pod", "apps", {"app": "b"})] == ["b"]
    assert cluster.list("example.dev/v1", "Widget") == []
    assert cluster.get(WIDGET) is None


def test_access_review_and_version() -> None:
    cluster = FakeCluster(version="v1.29.0")
    cluster.denied.add(("create", "apiextensions.k8s.io", "customresourcedefinitions"))
    assert cluster.server_version() == "v1.29.0"
    assert cluster.can_i("create", "customresourcedefinitions", "apiextensions.k8s.io") is False
    assert cluster.can_i("create", "namespaces") is True
