"""Every shipped profile renders from the real upstream manifests: valid, hardened, trimmed, stable."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.catalog import load_catalog
from appliance.harden.model import containers, pod_spec
from appliance.inventory import inventory
from appliance.k8s.refs import ResourceRef
from appliance.render import Bundle, render_profile
from appliance.render.bundle import KIND_ORDER, sort_key
from appliance.render.validate import validate
from appliance.sources.cache import read_documents

from .conftest import SHIPPED

MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"


def refs(bundle: Bundle) -> set[str]:
    return {str(ResourceRef.of(o)) for o in bundle.objects}


def workloads(bundle: Bundle) -> dict[str, dict]:
    return {str(ResourceRef.of(o)): o for o in bundle.objects if pod_spec(o) is not None}


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_renders_valid_and_byte_stable(name: str, bundles: dict[str, Bundle],
                                               yamls: dict[str, str], upstream_cache: Path) -> None:
    bundle = bundles[name]
    assert validate(bundle.objects, load_catalog().kubernetes_version) == []
    again = render_profile(name)
    assert again is not bundle
    assert again.to_yaml().encode() == yamls[name].encode()


@pytest.mark.parametrize("name", SHIPPED)
def test_stable_order_and_labels(name: str, bundles: dict[str, Bundle]) -> None:
    objects = bundles[name].objects
    assert objects == sorted(objects, key=sort_key)
    kinds = [o["kind"] for o in objects]
    known = [k for k in kinds if k in KIND_ORDER]
    assert known == sorted(known, key=KIND_ORDER.index)
    assert kinds[0] == "Namespace"
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "appliance"
        assert labels["appliance.dev/profile"] == name


def test_components_per_profile(bundles: dict[str, Bundle]) -> None:
    assert set(workloads(bundles["minimal"])) == {
        "Deployment/object-store/minio",
        "Deployment/kubeflow/ml-pipeline",
        "Deployment/kubeflow/ml-pipeline-persistenceagent",
        "Deployment/kubeflow/workflow-controller",
        "Deployment/kubeflow/metadata-grpc-deployment",
        "Deployment/kubeflow/mysql",
    }
    assert set(workloads(bundles["serving"])) == {
        "Deployment/object-store/minio",
        "Deployment/kserve/kserve-controller-manager",
    }
    assert set(workloads(bundles["standard"])) == (
        set(workloads(bundles["minimal"])) | set(workloads(bundles["serving"])) | {
            "Deployment/katib/katib-controller",
            "Deployment/katib/katib-db-manager",
            "Deployment/katib/katib-mysql",
        }
    )


def test_trimmed_parts_are_gone(bundles: dict[str, Bundle], yamls: dict[str, str]) -> None:
    text = yamls["standard"]
    for gone in ("ml-pipeline-ui", "visualizationserver", "viewer-crd", "cache-server",
                 "metadata-writer", "metadata-envoy", "katib-ui", "kube-rbac-proxy", "seaweedfs"):
        assert gone not in text, gone
    kinds = {o["kind"] for o in bundles["standard"].objects}
    assert not kinds & {"Certificate", "Issuer", "Ingress", "VirtualService", "Gateway"}
    runtimes = sorted(o["metadata"]["name"] for o in bundles["standard"].objects
                      if o["kind"] == "ClusterServingRuntime")
    assert runtimes == ["kserve-lgbserver", "kserve-sklearnserver", "kserve-xgbserver"]


def test_minio_replaces_the_bundled_store_everywhere(bundles: dict[str, Bundle]) -> None:
    by_ref = {str(ResourceRef.of(o)): o for o in bundles["minimal"].objects}
    minio = by_ref["Deployment/object-store/minio"]
    assert minio["spec"]["template"]["spec"]["containers"][0]["image"] == MINIO_IMAGE
    assert by_ref["Service/object-store/minio"]["spec"]["type"] == "ClusterIP"
    assert "PersistentVolumeClaim/object-store/minio-data" in by_ref
    api = by_ref["Deployment/kubeflow/ml-pipeline"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert env["OBJECTSTORECONFIG_HOST"] == "minio.object-store.svc.cluster.local"
    assert env["OBJECTSTORECONFIG_PORT"] == "9000"
    argo = by_ref["ConfigMap/kubeflow/workflow-controller-configmap"]["data"]["artifactRepository"]
    assert 'endpoint: "minio.object-store.svc.cluster.local:9000"' in argo
    launcher = by_ref["ConfigMap/kubeflow/kfp-launcher"]["data"]
    assert launcher["defaultPipelineRoot"] == "minio://mlpipeline/v2/artifacts"
    assert "endpoint: minio.object-store.svc.cluster.local:9000" in launcher["providers"]


def test_katib_lives_in_its_own_namespace(bundles: dict[str, Bundle]) -> None:
    by_ref = {str(ResourceRef.of(o)): o for o in bundles["standard"].objects}
    katib = [o for o in bundles["standard"].objects if o["metadata"]["labels"].get(
        "appliance.dev/component") == "tuning"]
    assert {o["metadata"].get("namespace", "") for o in katib} == {"", "katib"}
    labels = by_ref["Namespace/katib"]["metadata"]["labels"]
    assert "katib.kubeflow.org/metrics-collector-injection" not in labels
    assert "katib.kubeflow.org/metrics-collector-injection" not in (
        by_ref["Namespace/kubeflow"]["metadata"]["labels"])
    mutating = by_ref["MutatingWebhookConfiguration/katib.kubeflow.org"]
    pod_hook = [w for w in mutating["webhooks"] if w["name"] == "mutator.pod.katib.kubeflow.org"][0]
    assert pod_hook["matchConditions"][0]["expression"] == (
        'request.userInfo.username != "system:serviceaccount:katib:katib-controller"')
    assert {w["clientConfig"]["service"]["namespace"] for w in mutating["webhooks"]} == {"katib"}
    binding = by_ref["ClusterRoleBinding/katib-controller"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "katib-controller",
                                    "namespace": "katib"}]


def test_kserve_standard_mode_and_install_time_certificate(bundles: dict[str, Bundle]) -> None:
    by_ref = {str(ResourceRef.of(o)): o for o in bundles["serving"].objects}
    config = by_ref["ConfigMap/kserve/inferenceservice-config"]["data"]
    assert json.loads(config["deploy"])["defaultDeploymentMode"] == "Standard"
    assert json.loads(config["ingress"])["disableIngressCreation"] is True
    s3 = json.loads(config["credentials"])["s3"]
    assert s3["s3Endpoint"] == "minio.object-store.svc.cluster.local:9000"
    cert = by_ref["Secret/kserve/kserve-webhook-server-cert"]
    assert "data" not in cert and "stringData" not in cert
    hooks = [o for o in bundles["serving"].objects if o["kind"].endswith("WebhookConfiguration")]
    assert len(hooks) == 6
    for hook in hooks:
        annotations = hook["metadata"]["annotations"]
        assert annotations == {"appliance.dev/inject-ca-from": "kserve/kserve-webhook-server-cert"}
    manager = by_ref["Deployment/kserve/kserve-controller-manager"]["spec"]["template"]["spec"]
    assert [c["name"] for c in manager["containers"]] == ["manager"]


@pytest.mark.parametrize("name", SHIPPED)
def test_no_upstream_default_credential_survives(name: str, bundles: dict[str, Bundle],
                                                yamls: dict[str, str]) -> None:
    bundle = bundles[name]
    text = yamls[name]
    assert "minio123" not in text
    assert "MYSQL_ALLOW_EMPTY_PASSWORD" not in text
    assert "-p${MYSQL_ROOT_PASSWORD}" not in text
    for obj in bundle.objects:
        if obj["kind"] == "Secret":
            values = dict(obj.get("stringData") or {})
            values.update({k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()})
            for key, value in values.items():
                assert value not in ("minio", "minio123", "minioadmin", "test", ""), (obj, key)
        spec = pod_spec(obj)
        for container, _ in containers(*spec) if spec else []:
            for env in container.get("env") or []:
                if re.search("PASSWORD|SECRET|ACCESS", env["name"]) and not env["name"].endswith("_NAME"):
                    assert "value" not in env, (ResourceRef.of(obj), env)


def test_generated_credentials_are_declared_on_every_secret_that_needs_one(
        bundles: dict[str, Bundle]) -> None:
    annotated = {str(ResourceRef.of(o)): o["metadata"]["annotations"]["appliance.dev/generated-keys"]
                 for o in bundles["standard"].objects
                 if o["kind"] == "Secret" and "appliance.dev/generated-keys" in
                 (o["metadata"].get("annotations") or {})}
    assert annotated == {
        "Secret/object-store/minio-credentials":
            "rootUser=object-store-access-key,rootPassword=object-store-secret-key",
        "Secret/kubeflow/mlpipeline-minio-artifact":
            "accesskey=object-store-access-key,secretkey=object-store-secret-key",
        "Secret/kubeflow/mysql-secret": "password=pipelines-mysql-root-password",
        "Secret/katib/katib-mysql-secrets": "MYSQL_ROOT_PASSWORD=tuning-mysql-root-password",
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_every_pod_is_restricted_and_sized(name: str, bundles: dict[str, Bundle]) -> None:
    for ref, obj in workloads(bundles[name]).items():
        spec, path = pod_spec(obj)  # type: ignore[misc]
        assert spec["securityContext"]["runAsNonRoot"] is True, ref
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", ref
        for container, cpath in containers(spec, path):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, cpath
            assert "ALL" in sc["capabilities"]["drop"], cpath
            assert sc.get("privileged") is not True
            for part in ("requests", "limits"):
                assert set(container["resources"][part]) >= {"cpu", "memory"}, (ref, cpath)


@pytest.mark.parametrize("name", SHIPPED)
def test_owned_namespaces_restricted_with_default_deny(name: str, bundles: dict[str, Bundle]) -> None:
    bundle = bundles[name]
    namespaces = [o for o in bundle.objects if o["kind"] == "Namespace"]
    policies = {str(ResourceRef.of(o)) for o in bundle.objects if o["kind"] == "NetworkPolicy"}
    for ns in namespaces:
        labels = ns["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.32"
        assert f"NetworkPolicy/{ns['metadata']['name']}/default-deny" in policies
        assert f"NetworkPolicy/{ns['metadata']['name']}/allow-dns" in policies
    services = [o for o in bundle.objects if o["kind"] == "Service"]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)


def test_exceptions_are_records_with_reasons(bundles: dict[str, Bundle]) -> None:
    records = bundles["standard"].exceptions
    assert records == sorted(records, key=lambda r: (r["rule"], r["resource"]["kind"],
                                                     r["resource"]["namespace"], r["resource"]["name"]))
    assert {"rule": "rbac.secrets-cluster-wide",
            "resource": {"kind": "ClusterRole", "namespace": "", "name": "katib-controller"},
            "reason": records[[r["resource"]["name"] for r in records].index("katib-controller")]["reason"],
            } in records
    assert all(len(r["reason"].split()) >= 5 for r in records)
    # A profile only carries its own components' exceptions.
    assert {r["resource"]["name"] for r in bundles["serving"].exceptions} == {"kserve-manager-role"}


def test_inventory_figures_against_the_full_platform(bundles: dict[str, Bundle],
                                                     upstream_cache: Path) -> None:
    catalog = load_catalog()
    full = inventory("full", read_documents(catalog.sources[catalog.comparison]))
    assert (full.pods, full.crds) == (52, 74)
    assert full.memory_requests_mib == 7162
    standard = inventory("standard", bundles["standard"].objects)
    minimal = inventory("minimal", bundles["minimal"].objects)
    assert (standard.pods, standard.memory_requests_mib) == (10, 1928)
    assert (minimal.pods, minimal.memory_requests_mib) == (6, 1152)
    # The goal for `standard`, stated on its own: at most 10 pods and 2 GiB of requests.
    assert standard.pods <= 10 and standard.memory_requests_mib <= 2048


WORKLOADS = "appliance-workloads"
SUGGESTION_PODS = {"matchExpressions": [{"key": "katib.kubeflow.org/suggestion", "operator": "Exists"}]}
TRIAL_PODS = {"matchExpressions": [{"key": "katib.kubeflow.org/trial", "operator": "Exists"}]}
PREDICTOR_PODS = {"matchExpressions": [{"key": "serving.kserve.io/inferenceservice", "operator": "Exists"}]}


def in_namespace(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def policies(bundle: Bundle, namespace: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o["spec"] for o in bundle.objects
            if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace}


def test_workload_namespace_only_where_workloads_run(bundles: dict[str, Bundle]) -> None:
    assert f"Namespace/{WORKLOADS}" not in refs(bundles["minimal"])
    restricted = {f"pod-security.kubernetes.io/{mode}{suffix}": value for mode in ("enforce", "audit", "warn")
                  for suffix, value in (("", "restricted"), ("-version", "v1.32"))}
    for name, extra in (("serving", {}),
                        ("standard", {"katib.kubeflow.org/metrics-collector-injection": "enabled"})):
        [ns] = [o for o in bundles[name].objects
                if o["kind"] == "Namespace" and o["metadata"]["name"] == WORKLOADS]
        assert ns["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "appliance", "appliance.dev/component": "workloads",
            "appliance.dev/profile": name, **extra, **restricted}
    for name, users in (("serving", "serving"), ("standard", "tuning, serving")):
        [added] = [c for c in bundles[name].changes if str(c.resource) == f"Namespace/{WORKLOADS}"
                   and c.transform == "catalog"]
        assert (added.path, added.detail) == ("", f"added: the workload namespace of {users}")
    assert sorted(policies(bundles["serving"], WORKLOADS)) == [
        "allow-dns", "allow-serving-object-store-egress", "default-deny"]
    assert sorted(policies(bundles["standard"], WORKLOADS)) == [
        "allow-apiserver-katib-suggestions", "allow-dns", "allow-katib-db-manager-egress-1",
        "allow-katib-db-manager-egress-2", "allow-katib-early-stopping", "allow-katib-early-stopping-egress",
        "allow-katib-suggestions", "allow-serving-object-store-egress", "allow-tuning-object-store-egress",
        "default-deny"]


def test_workload_namespace_allows_exactly_what_trials_suggestions_and_predictors_need(
        bundles: dict[str, Bundle]) -> None:
    work = policies(bundles["standard"], WORKLOADS)
    minio = {**in_namespace("object-store"), "podSelector": {"matchLabels": {"app": "minio"}}}
    db_manager = {**in_namespace("katib"),
                  "podSelector": {"matchLabels": {"katib.kubeflow.org/component": "db-manager"}}}
    controller = {**in_namespace("katib"),
                  "podSelector": {"matchLabels": {"katib.kubeflow.org/component": "controller"}}}

    def egress(pods: dict[str, Any], to: dict[str, Any], *ports: int) -> dict[str, Any]:
        return {"podSelector": pods, "policyTypes": ["Egress"],
                "egress": [{"to": [to], "ports": [{"protocol": "TCP", "port": p} for p in ports]}]}

    def ingress(pods: dict[str, Any], source: dict[str, Any], *ports: int) -> dict[str, Any]:
        return {"podSelector": pods, "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": p} for p in ports], "from": [source]}]}

    assert work["allow-katib-db-manager-egress-1"] == egress(TRIAL_PODS, db_manager, 6789)
    assert work["allow-katib-db-manager-egress-2"] == egress(SUGGESTION_PODS, db_manager, 6789)
    assert work["allow-tuning-object-store-egress"] == egress(TRIAL_PODS, minio, 9000)
    assert work["allow-serving-object-store-egress"] == egress(PREDICTOR_PODS, minio, 9000)
    assert work["allow-katib-suggestions"] == ingress(SUGGESTION_PODS, controller, 6789, 6788)
    trials_here = {**in_namespace(WORKLOADS), "podSelector": TRIAL_PODS}
    suggestions_here = {**in_namespace(WORKLOADS), "podSelector": SUGGESTION_PODS}
    assert work["allow-katib-early-stopping"] == ingress(SUGGESTION_PODS, trials_here, 6788)
    assert work["allow-katib-early-stopping-egress"] == egress(TRIAL_PODS, suggestions_here, 6788)
    assert work["allow-apiserver-katib-suggestions"] == {
        "podSelector": SUGGESTION_PODS, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]}
    # The other side of each allow: the object store and Katib accept that namespace's pods only.
    store = policies(bundles["standard"], "object-store")
    assert store["allow-tuning-object-store"]["ingress"][0]["from"] == [trials_here]
    assert store["allow-serving-object-store"]["ingress"][0]["from"] == [
        {**in_namespace(WORKLOADS), "podSelector": PREDICTOR_PODS}]
    katib = policies(bundles["standard"], "katib")
    assert katib["allow-katib-db-manager"]["ingress"][0]["from"] == [
        controller, trials_here, suggestions_here]
    assert katib["allow-katib-suggestions-egress"] == egress(
        {"matchLabels": {"katib.kubeflow.org/component": "controller"}}, suggestions_here, 6789, 6788)
    assert policies(bundles["serving"], "object-store")["allow-serving-object-store"] == \
        store["allow-serving-object-store"]


def katib_config_of(bundle: Bundle) -> dict[str, Any]:
    [config] = [o for o in bundle.objects if str(ResourceRef.of(o)) == "ConfigMap/katib/katib-config"]
    return yaml.safe_load(config["data"]["katib-config.yaml"])  # type: ignore[no-any-return]


def test_katib_runtime_containers_meet_restricted_or_are_declared(bundles: dict[str, Bundle]) -> None:
    config = katib_config_of(bundles["standard"])
    assert config["init"]["controller"]["injectSecurityContext"] is True
    suggestions = config["runtime"]["suggestions"]
    assert [s["algorithmName"] for s in suggestions] == [
        "random", "tpe", "grid", "hyperband", "bayesianoptimization", "cmaes", "sobol", "multivariate-tpe",
        "enas", "darts", "pbt"]
    for suggestion in suggestions:
        assert suggestion["securityContext"] == {
            "runAsUser": 65532, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, suggestion["algorithmName"]
    assert config["runtime"]["earlyStoppings"] == [
        {"algorithmName": "medianstop", "image": "ghcr.io/kubeflow/katib/earlystopping-medianstop:v0.19.0"}]
    declared = [r for r in bundles["standard"].exceptions if r["resource"]["name"] == "katib-config"]
    assert [(r["rule"], r["container"]) for r in declared] == [
        ("pss.restricted.allow-privilege-escalation", "early-stopping"),
        ("pss.restricted.capabilities", "early-stopping"),
        ("pss.restricted.run-as-non-root", "early-stopping"),
        ("pss.restricted.seccomp", "early-stopping")]
    assert "no field to set one" in declared[0]["reason"]


def test_kserve_pulls_preloaded_images_and_sizes_model_pods(bundles: dict[str, Bundle]) -> None:
    by_ref = {str(ResourceRef.of(o)): o for o in bundles["serving"].objects}
    deployment = by_ref["Deployment/kserve/kserve-controller-manager"]
    manager = deployment["spec"]["template"]["spec"]["containers"][0]
    assert manager["imagePullPolicy"] == "IfNotPresent"  # upstream: Always, which defeats preloading
    storage = by_ref["ClusterStorageContainer/default"]
    assert "namespace" not in storage["metadata"]
    assert storage["spec"]["container"]["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    small = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    assert storage["spec"]["container"]["resources"] == small
    config = by_ref["ConfigMap/kserve/inferenceservice-config"]["data"]
    assert json.loads(config["inferenceService"])["resource"] == {
        "cpuLimit": "500m", "memoryLimit": "512Mi", "cpuRequest": "50m", "memoryRequest": "128Mi"}
    initializer = json.loads(config["storageInitializer"])
    assert {k: initializer[k] for k in ("cpuRequest", "memoryRequest", "cpuLimit", "memoryLimit")} == {
        "cpuRequest": "50m", "memoryRequest": "128Mi", "cpuLimit": "500m", "memoryLimit": "512Mi"}


def test_runtime_images_are_in_the_image_inventory(bundles: dict[str, Bundle]) -> None:
    katib = "ghcr.io/kubeflow/katib/"
    assert bundles["standard"].runtime_images() == {
        f"{katib}earlystopping-medianstop:v0.19.0": ["Katib earlyStoppings[medianstop]"],
        f"{katib}file-metrics-collector:v0.19.0": [
            "Katib metricsCollectors[File]", "Katib metricsCollectors[StdOut]"],
        f"{katib}suggestion-darts:v0.19.0": ["Katib suggestions[darts]"],
        f"{katib}suggestion-enas:v0.19.0": ["Katib suggestions[enas]"],
        f"{katib}suggestion-goptuna:v0.19.0": ["Katib suggestions[cmaes]", "Katib suggestions[sobol]"],
        f"{katib}suggestion-hyperband:v0.19.0": ["Katib suggestions[hyperband]"],
        f"{katib}suggestion-hyperopt:v0.19.0": ["Katib suggestions[random]", "Katib suggestions[tpe]"],
        f"{katib}suggestion-optuna:v0.19.0": [
            "Katib suggestions[grid]", "Katib suggestions[multivariate-tpe]"],
        f"{katib}suggestion-pbt:v0.19.0": ["Katib suggestions[pbt]"],
        f"{katib}suggestion-skopt:v0.19.0": ["Katib suggestions[bayesianoptimization]"],
        f"{katib}tfevent-metrics-collector:v0.19.0": ["Katib metricsCollectors[TensorFlowEvent]"],
        "ghcr.io/kubeflow/kfp-driver:2.17.0": ["KFP driver"],
        "ghcr.io/kubeflow/kfp-launcher:2.17.0": ["KFP launcher"],
        "kserve/lgbserver:v0.20.0": ["KServe serving runtime kserve-lgbserver"],
        "kserve/sklearnserver:v0.20.0": ["KServe serving runtime kserve-sklearnserver"],
        "kserve/storage-initializer:v0.20.0": ["KServe storage initializer"],
        "kserve/xgbserver:v0.20.0": ["KServe serving runtime kserve-xgbserver"],
        "quay.io/argoproj/argoexec:v4.0.5": ["Argo executor"],
    }
    for name, bundle in bundles.items():
        figures = inventory(name, bundle.objects)
        assert set(bundle.runtime_images()) <= set(bundle.images())
        assert len(bundle.images()) == figures.images + figures.runtime_images, name
    assert [inventory(n, bundles[n].objects).runtime_images for n in SHIPPED] == [3, 18, 4]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_change_is_recorded_with_a_reason(name: str, bundles: dict[str, Bundle]) -> None:
    changes = bundles[name].changes
    assert {c.transform for c in changes} <= {
        "catalog", "credentials", "exposure", "security-context", "service-account-token", "resources",
        "image-pull-policy", "image-digests", "pod-security-labels", "network-policies"}
    assert all(c.detail for c in changes)
    patches = [c for c in changes if c.transform == "catalog" and c.path not in ("metadata.namespace", "")]
    assert patches and all(len(c.detail.split(": ", 1)[1].split()) >= 5 for c in patches)


def test_a_full_lock_pins_every_image_runtime_images_included(bundles: dict[str, Bundle],
                                                              upstream_cache: Path) -> None:
    # `appliance lock` locks Bundle.images(); with every one locked, nothing stays a tag.
    lock = {image: "sha256:" + "cd" * 32 for image in bundles["standard"].images()}
    pinned = render_profile("standard", lock=lock)
    assert pinned.images() == sorted(f"{image}@{lock[image]}" for image in lock)
    api = {str(ResourceRef.of(o)): o for o in pinned.objects}["Deployment/kubeflow/ml-pipeline"]
    env = {e["name"]: e.get("value") for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    digest = lock["ghcr.io/kubeflow/kfp-driver:2.17.0"]
    assert (env["V2_DRIVER_IMAGE"], env["V2_LAUNCHER_IMAGE"]) == (
        f"ghcr.io/kubeflow/kfp-driver:2.17.0@{digest}", f"ghcr.io/kubeflow/kfp-launcher:2.17.0@{digest}")
