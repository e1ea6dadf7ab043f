"""Each hardening transform on small hand-written manifests: exact output and exact change records."""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml

from appliance.catalog.model import (
    Allow,
    ApiServerAccess,
    CredentialSpec,
    ExceptionSpec,
    Peer,
)
from appliance.harden import (
    credentials,
    exposure,
    harden,
    image_digests,
    image_pull_policy,
    network_policies,
    pod_security_labels,
    resources,
    runtime,
    security_context,
    service_account_token,
)
from appliance.harden.model import HardenContext
from appliance.k8s.refs import ResourceRef

DIGEST = "sha256:" + "ab" * 32
DEPLOY = ResourceRef("Deployment", "demo", "web")


def deployment(container: dict[str, Any], pod: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = {"containers": [{"name": "app", "image": "example.org/web:1.0", **container}]}
    spec.update(pod or {})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec}},
    }


def pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def details(changes: list[Any]) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in changes]


CTX = HardenContext(profile="p", owned_namespaces=("demo",),
                    default_resources={"requests": {"cpu": "50m", "memory": "64Mi"},
                                       "limits": {"cpu": "1", "memory": "512Mi"}})


def test_security_context_to_restricted() -> None:
    original = deployment(
        {"securityContext": {"privileged": True, "capabilities": {"add": ["NET_ADMIN", "NET_BIND_SERVICE"]}}},
        {"hostNetwork": True},
    )
    before = json.dumps(original, sort_keys=True)
    result = security_context.apply([original], CTX)
    assert json.dumps(original, sort_keys=True) == before  # pure: the input is untouched
    pod = pod_of(result.objects[0])
    assert pod["hostNetwork"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["containers"][0]["securityContext"] == {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
    }
    c = "spec.template.spec.containers[0].securityContext"
    assert details(result.changes) == [
        ("spec.template.spec.hostNetwork", "true -> false"),
        ("spec.template.spec.securityContext.runAsNonRoot", "unset -> true"),
        ("spec.template.spec.securityContext.seccompProfile.type", "unset -> RuntimeDefault"),
        (f"{c}.privileged", "true -> false"),
        (f"{c}.allowPrivilegeEscalation", "unset -> false"),
        (f"{c}.capabilities.drop", "unset -> includes ALL"),
        (f"{c}.capabilities.add", "removed ['NET_ADMIN']"),
    ]
    assert result.unresolved == []


def test_already_restricted_workload_is_left_alone() -> None:
    hardened = security_context.apply([deployment({})], CTX).objects[0]
    again = security_context.apply([hardened], CTX)
    assert again.changes == [] and again.objects[0] is hardened


def test_root_and_host_path_need_an_exception() -> None:
    obj = deployment({"securityContext": {"runAsUser": 0}},
                     {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]})
    result = security_context.apply([obj], CTX)
    assert result.unresolved == [
        "Deployment/demo/web spec.template.spec.volumes[0]: hostPath volume "
        "(rule pss.baseline.host-path-volumes: needs a catalog exception)",
        "Deployment/demo/web spec.template.spec.containers[0].securityContext.runAsUser: runs as UID 0 "
        "(rule pss.restricted.run-as-user: needs a catalog exception)",
    ]
    excepted = HardenContext(profile="p", exceptions=(
        ExceptionSpec("pss.restricted.run-as-user", DEPLOY, "the image needs root to chown its volume"),
        ExceptionSpec("pss.baseline.host-path-volumes", DEPLOY, "reads node logs by design of the agent"),
        ExceptionSpec("pss.restricted.run-as-non-root", DEPLOY, "the image needs root to chown its volume"),
    ))
    result = security_context.apply([obj], excepted)
    assert result.unresolved == []
    assert "runAsNonRoot" not in pod_of(result.objects[0])["securityContext"]


def test_resources_fill_gaps_only() -> None:
    obj = deployment({"resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "3"}}})
    result = resources.apply([obj], CTX)
    assert pod_of(result.objects[0])["containers"][0]["resources"] == {
        "requests": {"cpu": "3", "memory": "2Gi"},
        "limits": {"cpu": "3", "memory": "2Gi"},
    }
    c = "spec.template.spec.containers[0].resources"
    assert details(result.changes) == [
        (f"{c}.limits.cpu", "unset -> 3"),  # never below the request
        (f"{c}.requests.memory", "unset -> 2Gi"),  # a lone limit means request == limit
    ]


def test_exposure_clusterip_only_and_no_host_ports() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "demo"},
               "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                        "ports": [{"port": 80, "nodePort": 30080}]}}
    obj = deployment({"ports": [{"containerPort": 8080, "hostPort": 8080}]})
    result = exposure.apply([service, obj], CTX)
    assert result.objects[0]["spec"] == {"type": "ClusterIP", "ports": [{"port": 80}]}
    assert pod_of(result.objects[1])["containers"][0]["ports"] == [{"containerPort": 8080}]
    assert details(result.changes) == [
        ("spec.type", "LoadBalancer -> ClusterIP"),
        ("spec.ports[0].nodePort", "removed"),
        ("spec.externalTrafficPolicy", "removed"),
        ("spec.template.spec.containers[0].ports[0].hostPort", "8080 -> removed"),
    ]


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "demo"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_credentials_become_generated_and_defaults_are_caught() -> None:
    ctx = HardenContext(profile="p", credentials=(
        CredentialSpec(ResourceRef("Secret", "demo", "db"), {"password": "db-root-password"}),))
    result = credentials.apply([secret("db", password="test", user="root")], ctx)
    db = result.objects[0]
    assert db["data"] == {"user": base64.b64encode(b"root").decode()}
    assert db["metadata"]["annotations"] == {"appliance.dev/generated-keys": "password=db-root-password"}
    assert details(result.changes) == [
        ("data.password", "literal value removed"),
        ("metadata.annotations[appliance.dev/generated-keys]",
         "password generated at install time as db-root-password"),
    ]
    assert "test" not in json.dumps(result.changes[0].as_record())  # never the value itself
    assert result.unresolved == []
    leftover = credentials.apply(
        [secret("s3", accesskey="minio", secretkey="minio123"),
         deployment({"env": [{"name": "MYSQL_ALLOW_EMPTY_PASSWORD", "value": "true"},
                             {"name": "DB_PASSWORD", "value": ""}]})],
        HardenContext(profile="p"))
    assert leftover.unresolved == [
        "Secret/demo/s3 key accesskey: well-known default credential",
        "Secret/demo/s3 key secretkey: well-known default credential",
        "Deployment/demo/web spec.template.spec.containers[0].env[0]: "
        "MYSQL_ALLOW_EMPTY_PASSWORD allows an empty password",
        "Deployment/demo/web spec.template.spec.containers[0].env[1]: DB_PASSWORD is a default credential",
    ]


def test_image_digests_from_the_lock_only() -> None:
    runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime",
               "metadata": {"name": "rt"}, "spec": {"containers": [{"name": "k", "image": "other/rt:2"}]}}
    ctx = HardenContext(profile="p", image_lock={"example.org/web:1.0": DIGEST})
    result = image_digests.apply([deployment({}), runtime], ctx)
    assert pod_of(result.objects[0])["containers"][0]["image"] == f"example.org/web:1.0@{DIGEST}"
    assert result.objects[1] is runtime  # no lock entry: stays a tag
    assert details(result.changes) == [
        ("spec.template.spec.containers[0].image", f"example.org/web:1.0 -> example.org/web:1.0@{DIGEST}")]


def test_pod_security_labels_on_owned_namespaces_only() -> None:
    owned = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "demo", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    other = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}}
    result = pod_security_labels.apply([owned, other], HardenContext(profile="p", owned_namespaces=("demo",),
                                                                     kubernetes_version="1.31"))
    assert result.objects[0]["metadata"]["labels"] == {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", "restricted"), ("-version", "v1.31"))
    }
    assert result.objects[1] is other
    assert ("metadata.labels[pod-security.kubernetes.io/enforce]", "baseline -> restricted") in details(
        result.changes)
    assert len(result.changes) == 6
    baseline = pod_security_labels.apply([owned], HardenContext(profile="p", posture="baseline",
                                                                owned_namespaces=("demo",)))
    assert baseline.objects[0]["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "baseline"


def test_network_policies_default_deny_and_both_sides_of_an_allow() -> None:
    web = {"matchLabels": {"app": "web"}}
    ctx = HardenContext(
        profile="p", owned_namespaces=("demo", "db"),
        api_server=(("demo", ApiServerAccess("web", web)),),
        allows=(Allow("db", Peer("db", {"matchLabels": {"app": "db"}}), (5432,),
                      (Peer("demo", web), Peer("*"))),
                Allow("hook", Peer("demo", web), (9443,), (Peer(anywhere=True),))),
    )
    result = network_policies.apply([], ctx)
    made = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["spec"] for o in result.objects}
    assert sorted(made) == ["db/allow-db", "db/allow-dns", "db/default-deny", "demo/allow-apiserver-web",
                            "demo/allow-db-egress", "demo/allow-dns", "demo/allow-hook", "demo/default-deny"]
    assert made["demo/default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert made["db/allow-db"]["ingress"] == [{
        "ports": [{"protocol": "TCP", "port": 5432}],
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "demo"}},
                  "podSelector": web},
                 {"namespaceSelector": {}}]}]
    assert made["demo/allow-db-egress"] == {
        "podSelector": web, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}},
                            "podSelector": {"matchLabels": {"app": "db"}}}],
                    "ports": [{"protocol": "TCP", "port": 5432}]}]}
    assert made["demo/allow-hook"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9443}]}]
    assert made["demo/allow-apiserver-web"]["egress"] == [
        {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]
    assert [c.detail for c in result.changes] == ["added"] * 8


def test_clashing_policy_names_are_reported() -> None:
    twice = Allow("x", Peer("demo", {"matchLabels": {"a": "b"}}), (1,), (Peer("*"),))
    result = network_policies.apply([], HardenContext(profile="p", owned_namespaces=("demo",),
                                                      allows=(twice, twice)))
    assert result.unresolved == ["NetworkPolicy/demo/allow-x: generated twice or clashes with an "
                                 "upstream object (rename the allow)"]


def test_harden_chains_every_transform() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    result = harden([ns, deployment({})], CTX)
    transforms = {c.transform for c in result.changes}
    assert transforms == {"security-context", "service-account-token", "resources", "pod-security-labels",
                          "network-policies"}
    assert [o["kind"] for o in result.objects] == [
        "Namespace", "Deployment", "NetworkPolicy", "NetworkPolicy"]


def test_api_token_only_for_pods_that_call_the_api_server() -> None:
    ctx = HardenContext(profile="p", owned_namespaces=("demo",), api_server=(
        ("demo", ApiServerAccess("web", {"matchLabels": {"app": "web"}})),))
    caller = deployment({})
    quiet = deployment({})
    quiet["metadata"]["name"] = "db"
    quiet["spec"]["template"]["metadata"]["labels"] = {"app": "db"}
    elsewhere = deployment({})
    elsewhere["metadata"]["namespace"] = "not-ours"
    result = service_account_token.apply([caller, quiet, elsewhere], ctx)
    assert result.objects[0] is caller and result.objects[2] is elsewhere
    assert pod_of(result.objects[1])["automountServiceAccountToken"] is False
    assert details(result.changes) == [("spec.template.spec.automountServiceAccountToken", "unset -> false")]


def test_serving_runtimes_are_hardened_at_container_level() -> None:
    runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime",
               "metadata": {"name": "rt"},
               "spec": {"containers": [{"name": "k", "image": "rt:1",
                                        "securityContext": {"allowPrivilegeEscalation": False,
                                                            "capabilities": {"drop": ["ALL"]}}}]}}
    result = security_context.apply([runtime], CTX)
    assert result.objects[0]["spec"]["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert details(result.changes) == [
        ("spec.containers[0].securityContext.runAsNonRoot", "unset -> true"),
        ("spec.containers[0].securityContext.seccompProfile.type", "unset -> RuntimeDefault")]


KATIB_CONFIG = """apiVersion: config.kubeflow.org/v1beta1
kind: KatibConfig
init:
  controller: {webhookPort: 8443}
runtime:
  metricsCollectors:
  - {kind: StdOut, image: "katib/collector:1"}
  suggestions:
  - {algorithmName: random, image: "katib/hyperopt:1", securityContext: {runAsUser: 65532}}
  earlyStoppings:
  - {algorithmName: medianstop, image: "katib/medianstop:1"}
"""
KATIB = ResourceRef("ConfigMap", "katib", "katib-config")


def katib_config() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "katib-config", "namespace": "katib"},
            "data": {"katib-config.yaml": KATIB_CONFIG}}


def katib_document(obj: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(obj["data"]["katib-config.yaml"])  # type: ignore[no-any-return]


def test_katib_config_templates_to_restricted_and_early_stopping_needs_an_exception() -> None:
    result = security_context.apply([katib_config()], CTX)
    doc = katib_document(result.objects[0])
    assert doc["init"]["controller"] == {"webhookPort": 8443, "injectSecurityContext": True}
    assert doc["runtime"]["suggestions"][0]["securityContext"] == {
        "runAsUser": 65532, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert doc["runtime"]["earlyStoppings"] == [
        {"algorithmName": "medianstop", "image": "katib/medianstop:1"}]
    assert doc["runtime"]["metricsCollectors"] == [{"kind": "StdOut", "image": "katib/collector:1"}]
    s = "data[katib-config.yaml].runtime.suggestions[0].securityContext"
    assert details(result.changes) == [
        ("data[katib-config.yaml].init.controller.injectSecurityContext", "unset -> true"),
        (f"{s}.allowPrivilegeEscalation", "unset -> false"),
        (f"{s}.capabilities.drop", "unset -> includes ALL"),
        (f"{s}.runAsNonRoot", "unset -> true"),
        (f"{s}.seccompProfile.type", "unset -> RuntimeDefault"),
    ]
    early = "ConfigMap/katib/katib-config data[katib-config.yaml].runtime.earlyStoppings[0]: Katib starts " \
            "container 'early-stopping' from this entry, which has no securityContext field"
    assert result.unresolved == [
        f"{early} (rule {rule}: needs a catalog exception)"
        for rule in ("pss.restricted.allow-privilege-escalation", "pss.restricted.capabilities",
                     "pss.restricted.run-as-non-root", "pss.restricted.seccomp")]
    # Exceptions scoped to the early-stopping container cover it, and nothing else.
    excepted = HardenContext(profile="p", exceptions=tuple(
        ExceptionSpec(rule, KATIB, "no securityContext field in Katib v0.19", "early-stopping")
        for rule in security_context.TEMPLATE_RULES))
    again = security_context.apply([katib_config()], excepted)
    assert again.unresolved == [] and len(again.changes) == 5
    wrong_container = HardenContext(profile="p", exceptions=(
        ExceptionSpec("pss.restricted.seccomp", KATIB, "no securityContext field in Katib v0.19",
                      "suggestion"),))
    assert len(security_context.apply([katib_config()], wrong_container).unresolved) == 4


def test_storage_container_is_a_restricted_template() -> None:
    storage = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer",
               "metadata": {"name": "default"},
               "spec": {"container": {"name": "storage-initializer", "image": "kserve/si:1"}}}
    result = security_context.apply([storage], CTX)
    assert result.objects[0]["spec"]["container"]["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert [path for path, _ in details(result.changes)] == [
        "spec.container.securityContext.allowPrivilegeEscalation",
        "spec.container.securityContext.capabilities.drop",
        "spec.container.securityContext.runAsNonRoot",
        "spec.container.securityContext.seccompProfile.type"]


def test_pull_policy_if_not_present_where_the_kubelet_would_pull_always() -> None:
    obj = deployment({"imagePullPolicy": "Always"})
    obj["spec"]["template"]["spec"]["containers"] += [
        {"name": "latest", "image": "example.org/tool:latest"},
        {"name": "untagged", "image": "example.org/tool"},
        {"name": "tagged", "image": "example.org/tool:2"},
        {"name": "pinned", "image": f"example.org/tool@{DIGEST}"},
        {"name": "never", "image": "example.org/tool", "imagePullPolicy": "Never"}]
    katib = katib_config()
    katib["data"]["katib-config.yaml"] = KATIB_CONFIG.replace(
        '{kind: StdOut, image: "katib/collector:1"}', '{kind: StdOut, image: "katib/collector:1", '
                                                      'imagePullPolicy: Always}')
    result = image_pull_policy.apply([obj, katib], CTX)
    policies = [c.get("imagePullPolicy") for c in pod_of(result.objects[0])["containers"]]
    assert policies == ["IfNotPresent", "IfNotPresent", "IfNotPresent", None, None, "Never"]
    c = "spec.template.spec.containers"
    assert details(result.changes) == [
        (f"{c}[0].imagePullPolicy", "Always -> IfNotPresent"),
        (f"{c}[1].imagePullPolicy", "unset (Always for example.org/tool:latest) -> IfNotPresent"),
        (f"{c}[2].imagePullPolicy", "unset (Always for example.org/tool) -> IfNotPresent"),
        # Katib defaults an unset policy to IfNotPresent: only the explicit Always changes.
        ("data[katib-config.yaml].runtime.metricsCollectors[0].imagePullPolicy", "Always -> IfNotPresent"),
    ]
    assert katib_document(result.objects[1])["runtime"]["metricsCollectors"][0]["imagePullPolicy"] == \
        "IfNotPresent"
    assert image_pull_policy.apply([katib_config()], CTX).changes == []


def test_runtime_images_are_pinned_where_they_are_named() -> None:
    api = deployment({"env": [{"name": "V2_DRIVER_IMAGE", "value": "kfp/driver:2"},
                              {"name": "OTHER", "value": "kfp/driver:2"}],
                      "args": ["--executor-image", "argo/exec:4", "--namespaced"]})
    controller = deployment({"command": ["controller", "--executor-image=argo/exec:4"]})
    kserve = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "inferenceservice-config", "namespace": "kserve"},
              "data": {"storageInitializer": '{"image": "kserve/si:1", "cpuLimit": "1"}'}}
    lock = {i: DIGEST for i in ("kfp/driver:2", "argo/exec:4", "katib/hyperopt:1", "kserve/si:1")}
    result = image_digests.apply([api, controller, katib_config(), kserve],
                                 HardenContext(profile="p", image_lock=lock))
    env = pod_of(result.objects[0])["containers"][0]["env"]
    assert env == [{"name": "V2_DRIVER_IMAGE", "value": f"kfp/driver:2@{DIGEST}"},
                   {"name": "OTHER", "value": "kfp/driver:2"}]
    assert pod_of(result.objects[0])["containers"][0]["args"][1] == f"argo/exec:4@{DIGEST}"
    command = pod_of(result.objects[1])["containers"][0]["command"]
    assert command == ["controller", f"--executor-image=argo/exec:4@{DIGEST}"]
    suggestion = katib_document(result.objects[2])["runtime"]["suggestions"][0]
    assert suggestion["image"] == f"katib/hyperopt:1@{DIGEST}"
    assert json.loads(result.objects[3]["data"]["storageInitializer"]) == {
        "image": f"kserve/si:1@{DIGEST}", "cpuLimit": "1"}
    assert [path for path, _ in details(result.changes)] == [
        "spec.template.spec.containers[0].env[0].value",
        "spec.template.spec.containers[0].args[1]",
        "spec.template.spec.containers[0].command[1]",
        "data[katib-config.yaml].runtime.suggestions[0].image",
        "data[storageInitializer].image",
    ]
    assert sorted(runtime.runtime_images(result.objects[2])) == [
        ("katib/collector:1", "Katib metricsCollectors[StdOut]"),
        (f"katib/hyperopt:1@{DIGEST}", "Katib suggestions[random]"),
        ("katib/medianstop:1", "Katib earlyStoppings[medianstop]")]
