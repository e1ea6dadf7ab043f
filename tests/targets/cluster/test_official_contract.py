"""Contract test: the real OfficialClient adapter against a local HTTP fake of the API server.

It checks the wire format the adapter produces through the `kubernetes` library (paths, query
parameters, content type, bodies), which the FakeCluster tests cannot see. Integration tier: it
opens a port on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_api_server import TOKEN, FakeApiServer, kubeconfig, running, status

from appliance.errors import BadInput
from appliance.targets.cluster.client import ApiError, Conflict, NotFound, ObjRef, is_transient
from appliance.targets.cluster.official import OfficialClient

pytestmark = pytest.mark.integration


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with running() as server:
        yield server


@pytest.fixture
def client(api: FakeApiServer, tmp_path: Path) -> OfficialClient:
    return OfficialClient.from_kubeconfig(kubeconfig(tmp_path / "kubeconfig", api.url), "appliance")


def deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
            "spec": {"replicas": 1}}


def test_server_side_apply_wire_format(api: FakeApiServer, client: OfficialClient, tmp_path: Path) -> None:
    stored = client.apply([deployment()])
    assert stored[0]["metadata"]["resourceVersion"] == "7"
    [patch] = api.requests("PATCH")
    assert patch.path == "/apis/apps/v1/namespaces/apps/deployments/web"
    assert patch.query == {"fieldManager": ["appliance"], "force": ["true"]}
    assert patch.headers["content-type"] == "application/apply-patch+yaml"
    assert patch.headers["authorization"] == f"Bearer {TOKEN}"  # the named context's user
    assert patch.body == deployment()
    # Discovery went through the standard documents, cached next to the kubeconfig.
    paths = [s.path for s in api.requests("GET")]
    assert paths[:2] == ["/version", "/apis"] and "/apis/apps/v1" in paths
    assert (tmp_path / "discovery-cache.json").is_file()


def test_cluster_scoped_objects_are_sent_without_namespace_and_force_can_be_off(
        api: FakeApiServer, client: OfficialClient) -> None:
    gadget = {"apiVersion": "example.dev/v1", "kind": "Gadget",
              "metadata": {"name": "g1", "namespace": "apps"}, "spec": {}}
    client.apply([gadget], field_manager="other", force=False)
    [patch] = api.requests("PATCH")
    assert patch.path == "/apis/example.dev/v1/gadgets/g1"
    assert patch.query == {"fieldManager": ["other"]}
    assert patch.body["metadata"] == {"name": "g1"}
    assert not any("last-applied" in json.dumps(s.body or {}) for s in api.seen)


def test_unknown_kinds_are_not_found_like_kubectl_says(client: OfficialClient) -> None:
    with pytest.raises(NotFound) as caught:
        client.apply([{"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime",
                       "metadata": {"name": "x"}}])
    assert caught.value.message == ('no matches for kind "ClusterServingRuntime" in version '
                                    '"serving.kserve.io/v1alpha1"')
    assert client.list("serving.kserve.io/v1alpha1", "ClusterServingRuntime") == []


def test_server_errors_keep_the_servers_message(api: FakeApiServer, client: OfficialClient) -> None:
    path = "/apis/apps/v1/namespaces/apps/deployments/web"
    api.answers[("PATCH", path)] = (409, status(409, "Conflict", "Apply failed with 1 conflict"))
    with pytest.raises(Conflict) as conflict:
        client.apply([deployment()])
    assert conflict.value.message == "Apply failed with 1 conflict"
    webhook = ('Internal error occurred: failed calling webhook "x": failed to call webhook: '
               'Post "https://svc.ns.svc:443/validate?timeout=10s": no endpoints available for service "svc"')
    api.answers[("PATCH", path)] = (500, status(500, "InternalError", webhook))
    with pytest.raises(ApiError) as failed:
        client.apply([deployment()])
    assert (failed.value.status, failed.value.message) == (500, webhook)


def test_get_list_delete(api: FakeApiServer, client: OfficialClient) -> None:
    assert client.get(ObjRef("v1", "Secret", "missing", "apps")) is None
    api.answers[("GET", "/api/v1/namespaces/apps/pods")] = (200, {
        "kind": "PodList", "apiVersion": "v1", "metadata": {},
        "items": [{"metadata": {"name": "p1", "namespace": "apps"}, "status": {"phase": "Running"}}]})
    pods = client.list("v1", "Pod", "apps", {"app": "web", "tier": "api"})
    assert pods == [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "apps"},
                     "status": {"phase": "Running"}}]
    assert api.requests("GET")[-1].query == {"labelSelector": ["app=web,tier=api"]}
    api.answers[("DELETE", "/api/v1/namespaces/apps/pods/p1")] = (200, status(200, "", ""))
    assert client.delete(ObjRef("v1", "Pod", "p1", "apps")) is True
    assert api.requests("DELETE")[-1].query == {"propagationPolicy": ["Foreground"]}
    assert client.delete(ObjRef("v1", "Pod", "gone", "apps")) is False


def test_logs_events_version_and_access_review(api: FakeApiServer, client: OfficialClient) -> None:
    api.answers[("GET", "/api/v1/namespaces/apps/pods/p1/log")] = (200, "starting\ncrashed\n")
    assert client.pod_logs("apps", "p1", "main", previous=True, tail=50) == "starting\ncrashed\n"
    # The library spells booleans in Python's way; the API server's ParseBool accepts it.
    assert api.requests("GET")[-1].query == {"container": ["main"], "previous": ["True"], "tailLines": ["50"]}
    api.answers[("GET", "/api/v1/namespaces/apps/events")] = (200, {
        "kind": "EventList", "apiVersion": "v1", "metadata": {},
        "items": [{"metadata": {"name": "e1"}, "reason": "BackOff", "type": "Warning"}]})
    events = client.events("apps", ObjRef("v1", "Pod", "p1", "apps"))
    assert events[0]["reason"] == "BackOff" and events[0]["kind"] == "Event"
    selector = "involvedObject.kind=Pod,involvedObject.name=p1"
    assert api.requests("GET")[-1].query == {"fieldSelector": [selector]}
    assert client.server_version() == "v1.34.11"
    assert client.can_i("create", "customresourcedefinitions", "apiextensions.k8s.io") is False
    review = api.requests("POST")[-1]
    assert review.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert review.body == {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                           "spec": {"resourceAttributes": {
                               "verb": "create", "resource": "customresourcedefinitions",
                               "group": "apiextensions.k8s.io"}}}
    assert client.can_i("get", "pods", namespace="apps") is True
    assert api.requests("POST")[-1].body["spec"]["resourceAttributes"] == {
        "verb": "get", "resource": "pods", "group": "", "namespace": "apps"}


def test_an_api_server_that_is_gone_is_a_transient_error(api: FakeApiServer, client: OfficialClient) -> None:
    assert client.server_version() == "v1.34.11"
    api.httpd.shutdown()
    api.httpd.server_close()
    with pytest.raises(ApiError) as caught:
        client.server_version()
    assert caught.value.status == 0 and is_transient(caught.value)
    assert "Connection refused" in caught.value.message


def test_kubeconfig_and_context_are_explicit(api: FakeApiServer, tmp_path: Path) -> None:
    with pytest.raises(BadInput) as missing:
        OfficialClient.from_kubeconfig(tmp_path / "nope", "appliance")
    assert missing.value.what == f"kubeconfig {tmp_path / 'nope'} not found"
    with pytest.raises(BadInput) as unknown:
        OfficialClient.from_kubeconfig(kubeconfig(tmp_path / "kc", api.url), "absent")
    assert unknown.value.what == f"kubeconfig {tmp_path / 'kc'}: cannot use context 'absent'"
