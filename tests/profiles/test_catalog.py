"""The catalog: the shipped one decodes and matches the profiles; strict decoding reports every
problem; trims and patches are applied exactly and stale ones are errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.catalog import load_catalog
from appliance.catalog.decode import decode_catalog
from appliance.catalog.model import Patch
from appliance.config import profile as profiles
from appliance.errors import InvalidDocument
from appliance.k8s.refs import ResourceRef
from appliance.render.assemble import assemble
from appliance.render.patches import PatchError, apply_patch, move_namespaces


def test_shipped_catalog_covers_every_profile_component() -> None:
    catalog = load_catalog()
    assert tuple(catalog.components) == profiles.COMPONENTS
    assert catalog.kubernetes_version == "1.32"
    assert catalog.comparison == "kubeflow-platform-26.03"
    for name in profiles.available():
        assert set(profiles.load(name).components) <= set(catalog.components)
    pins = {s.id: (s.url or s.git.commit if s.git else "") for s in catalog.sources.values()}
    assert pins["kfp-2.17.0"] == "4a3592cb2dd0a91a4652ab93893ec8beda1f3158"


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    data = {
        "apiVersion": "appliance.dev/v1alpha1", "kind": "Catalog", "kubernetesVersion": "latest",
        "comparison": "nope", "surprise": 1, "workloadNamespace": "Work_Loads",
        "sources": {"s": {"file": "dir/s.yaml", "sha256": "abc", "git": {
            "repo": "r", "commit": "main", "paths": ["p"], "kustomize": "5.5",
            "patches": [{"kind": "ConfigMap", "metadata": {"namespace": "x"}}, "data: {}"]}}},
        "components": {"c": {"description": "d", "namespaces": ["ns"], "sources": [
            {"source": "missing", "drop": ["Deployment/x"],
             "patches": [{"target": "ConfigMap/ns/c", "op": "poke"},
                         {"target": "ConfigMap/ns/c", "op": "yaml-merge", "key": "k", "merge": {}},
                         {"target": "ConfigMap/ns/c", "op": "merge", "merge": {}, "reason": "why"}]}],
            "workloads": {"labels": {"a": 1}},
            "network": {"apiServer": [{"name": "x", "namespace": 7, "pods": {"matchLabels": {"a": "b"}}}]},
            "exceptions": [{"rule": "r", "resource": "ClusterRole/ns/x", "reason": "because",
                            "container": 5}]}},
    }
    with pytest.raises(InvalidDocument) as info:
        decode_catalog(data, tmp_path / "catalog.yaml")
    assert info.value.problems == [
        "catalog.surprise: unknown field",
        "kubernetesVersion: expected MAJOR.MINOR such as '1.32', got 'latest'",
        "sources.s.sha256: expected 64 lowercase hex digits",
        "sources.s.git.commit: expected a full 40-hex commit id (tags move)",
        "sources.s.git.kustomize: expected a version such as v5.5.0, got '5.5'",
        "sources.s.git.patches[0].apiVersion: expected a non-empty string",
        "sources.s.git.patches[0].metadata.name: expected a non-empty string (it names the patched object)",
        "sources.s.git.patches[1]: expected a strategic-merge patch (a mapping)",
        "sources.s.file: a plain file name (it names the cache entry)",
        "components.c.sources[0].source: unknown source 'missing' (known: s)",
        "components.c.sources[0].patches[0].op: unknown op 'poke' (known: container-merge, json-merge, "
        "merge, remove-container, remove-env, replace-text, set-env, yaml-merge)",
        "components.c.sources[0].patches[1].reason: required field missing",
        "components.c.sources[0].patches[2].reason: a justification, not a label (5+ words)",
        "components.c.sources[0].drop[0]: Deployment is namespaced: write Deployment/<namespace>/x",
        "components.c.network.apiServer[0].namespace: expected a non-empty string",
        "components.c.exceptions[0].resource: ClusterRole is cluster-scoped: write ClusterRole/x",
        "components.c.exceptions[0].reason: a justification, not a label (5+ words)",
        "components.c.exceptions[0].container: expected a non-empty string",
        "components.c.workloads.labels: expected a mapping of strings to strings",
        "comparison: unknown source 'nope'",
        "workloadNamespace: 'Work_Loads' is not a DNS-1123 label (a namespace name)",
    ]


def test_workload_namespace_is_declared_once_and_owned_by_no_component(tmp_path: Path) -> None:
    def catalog(**top: Any) -> dict[str, Any]:
        return {"apiVersion": "appliance.dev/v1alpha1", "kind": "Catalog", "kubernetesVersion": "1.32",
                "comparison": "s", **top,
                "sources": {"s": {"file": "s.yaml", "sha256": "a" * 64, "url": "https://example.org/s"}},
                "components": {"c": {"description": "d", "namespaces": ["ns"], "workloads": {}}}}

    with pytest.raises(InvalidDocument) as info:
        decode_catalog(catalog(), tmp_path / "catalog.yaml")
    assert info.value.problems == ["workloadNamespace: required: c run workloads there"]
    with pytest.raises(InvalidDocument) as info:
        decode_catalog(catalog(workloadNamespace="ns"), tmp_path / "catalog.yaml")
    assert info.value.problems == ["workloadNamespace: 'ns' is already owned by component 'c'"]
    decoded = decode_catalog(catalog(workloadNamespace="work"), tmp_path / "catalog.yaml")
    assert (decoded.workload_namespace, decoded.components["c"].workload_labels) == ("work", {})
    assert decoded.workload_namespace_for(("c",)) == "work"
    assert decoded.workload_namespace_for(()) == ""


WORKLOAD = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "old"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": "i:1",
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "proxy", "image": "p:1"}]}}}}


def patched(op: str, **args: Any) -> dict[str, Any]:
    return apply_patch(WORKLOAD, Patch(ResourceRef("Deployment", "old", "w"), op, args))


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]


def test_patch_operations() -> None:
    main = containers_of(patched("set-env", container="main", env=[{"name": "B", "value": "3"},
                                                                    {"name": "C", "value": "4"}]))[0]
    assert main["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"},
                           {"name": "C", "value": "4"}]
    assert containers_of(patched("remove-env", container="main", names=["A"]))[0]["env"] == [
        {"name": "B", "value": "2"}]
    assert [c["name"] for c in containers_of(patched("remove-container", container="proxy"))] == ["main"]
    merged = containers_of(patched("container-merge", container="proxy", merge={"image": "p:2", "env": None}))
    assert merged[1] == {"name": "proxy", "image": "p:2"}
    assert patched("merge", merge={"metadata": {"labels": {"x": "y"}}})["metadata"]["labels"] == {"x": "y"}
    assert containers_of(patched("replace-text", path="spec", old="i:1", new="i:2"))[0]["image"] == "i:2"
    config = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a.json": '{"x": {"y": 1, "z": 2}}'}}
    out = apply_patch(config, Patch(ResourceRef("ConfigMap", "", "c"), "json-merge",
                                    {"key": "a.json", "merge": {"x": {"z": None, "w": 3}}}))
    assert out["data"]["a.json"] == '{\n  "x": {\n    "y": 1,\n    "w": 3\n  }\n}\n'
    katib = {"kind": "ConfigMap", "metadata": {"name": "k"},
             "data": {"k.yaml": "kind: K\nruntime:\n  items:\n  - {name: a}\n  - {name: b, x: 1}\n"}}
    each = apply_patch(katib, Patch(ResourceRef("ConfigMap", "", "k"), "yaml-merge",
                                    {"key": "k.yaml", "each": "runtime.items",
                                     "merge": {"x": 2, "y": {"z": 3}}}))
    assert each["data"]["k.yaml"] == ("kind: K\nruntime:\n  items:\n"
                                      "  - name: a\n    x: 2\n    y:\n      z: 3\n"
                                      "  - name: b\n    x: 2\n    y:\n      z: 3\n")
    whole = apply_patch(katib, Patch(ResourceRef("ConfigMap", "", "k"), "yaml-merge",
                                     {"key": "k.yaml", "merge": {"kind": None, "init": {"on": True}}}))
    assert yaml.safe_load(whole["data"]["k.yaml"]) == {
        "runtime": {"items": [{"name": "a"}, {"name": "b", "x": 1}]}, "init": {"on": True}}
    assert containers_of(WORKLOAD)[0]["env"][0] == {"name": "A", "value": "1"}  # input untouched


@pytest.mark.parametrize(("op", "args", "message"), [
    ("remove-env", {"container": "main", "names": ["Z"]}, "env ['Z'] not set in container 'main'"),
    ("set-env", {"container": "sidecar", "env": []}, "no container 'sidecar'"),
    ("replace-text", {"path": "spec", "old": "absent", "new": "x"}, "text 'absent' not found under spec"),
    ("replace-text", {"path": "nope.deeper", "old": "a", "new": "b"}, "path 'nope.deeper' not found"),
])
def test_stale_patches_are_errors(op: str, args: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        patched(op, **args)


@pytest.mark.parametrize(("args", "message"), [
    ({"key": "absent.yaml", "merge": {}}, "data key 'absent.yaml' not found"),
    ({"key": "k.yaml", "each": "runtime.none", "merge": {}}, "path 'none' not found"),
    ({"key": "k.yaml", "each": "runtime", "merge": {}},
     "'runtime' in data key 'k.yaml' is not a non-empty list"),
    ({"key": "bad.yaml", "merge": {}}, "data key 'bad.yaml' is not YAML"),
])
def test_stale_yaml_merges_are_errors(args: dict[str, Any], message: str) -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "k"},
              "data": {"k.yaml": "runtime: {items: []}\n", "bad.yaml": "a: [1\n"}}
    with pytest.raises(PatchError, match=message):
        apply_patch(config, Patch(ResourceRef("ConfigMap", "", "k"), "yaml-merge", args))


def test_each_patch_is_recorded_where_it_edits_with_its_reason(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    namespaced = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer",
                  "metadata": {"name": "default", "namespace": "old"}, "spec": {"container": {"name": "c"}}}
    text = yaml.safe_dump_all([WORKLOAD, namespaced])
    (tmp_path / "up.yaml").write_text(text)
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path))
    data = {
        "apiVersion": "appliance.dev/v1alpha1", "kind": "Catalog", "kubernetesVersion": "1.32",
        "comparison": "up", "workloadNamespace": "work",
        "sources": {"up": {"file": "up.yaml", "sha256": hashlib.sha256(text.encode()).hexdigest(),
                           "url": "https://example.org/up.yaml"}},
        "components": {"object-store": {
            "description": "d", "namespaces": ["new"], "workloads": {"labels": {"x": "y"}},
            "sources": [{"source": "up", "namespaces": {"old": "new"}, "patches": [
                {"target": "Deployment/new/w", "op": "set-env", "container": "main",
                 "env": [{"name": "A", "value": "2"}], "reason": "the variable points at our store"},
                {"target": "Deployment/new/w", "op": "remove-container", "container": "proxy",
                 "reason": "the proxy only fronts metrics"},
                {"target": "ClusterStorageContainer/default", "op": "merge",
                 "merge": {"spec": {"container": {"resources": {}}}},
                 "reason": "laptop sizing of the container"},
            ]}]}},
    }
    catalog = decode_catalog(data, tmp_path / "catalog.yaml")
    assembled = assemble(profiles.Profile("p", "", ("object-store",), tmp_path / "p.yaml"), catalog)
    assert [(str(c.resource), c.path, c.detail) for c in assembled.changes] == [
        ("ClusterStorageContainer/default", "metadata.namespace",
         "new -> removed (ClusterStorageContainer is cluster-scoped)"),
        ("Deployment/new/w", "spec.template.spec.containers[0].env",
         "set-env: the variable points at our store"),
        ("Deployment/new/w", "spec.template.spec.containers[1]",
         "remove-container: the proxy only fronts metrics"),
        ("ClusterStorageContainer/default", "spec.container.resources",
         "merge: laptop sizing of the container"),
        ("Namespace/work", "", "added: the workload namespace of object-store"),
    ]
    assert {c.transform for c in assembled.changes} == {"catalog"}
    assert assembled.objects[-1] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "work", "labels": {"appliance.dev/component": "workloads", "x": "y"}}}


def test_namespace_move_rewires_references() -> None:
    binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
               "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "old"}]}
    hook = {"kind": "MutatingWebhookConfiguration", "metadata": {"name": "h"},
            "webhooks": [{"clientConfig": {"service": {"name": "s", "namespace": "old"}}}]}
    ns = {"kind": "Namespace", "metadata": {"name": "old"}}
    moved = [move_namespaces(o, {"old": "new"}) for o in (WORKLOAD, binding, hook, ns)]
    assert moved[0]["metadata"]["namespace"] == "new"
    assert moved[1]["subjects"][0]["namespace"] == "new"
    assert moved[2]["webhooks"][0]["clientConfig"]["service"]["namespace"] == "new"
    assert moved[3]["metadata"]["name"] == "new"


def test_stale_trims_and_patches_name_the_catalog_field(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    text = yaml.safe_dump_all([WORKLOAD])
    (tmp_path / "up.yaml").write_text(text)
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path))
    data = {
        "apiVersion": "appliance.dev/v1alpha1", "kind": "Catalog", "kubernetesVersion": "1.32",
        "comparison": "up",
        "sources": {"up": {"file": "up.yaml", "sha256": hashlib.sha256(text.encode()).hexdigest(),
                           "url": "https://example.org/up.yaml"}},
        "components": {"object-store": {"description": "d", "namespaces": ["new"], "sources": [
            {"source": "up", "namespaces": {"old": "new"},
             "drop": ["Service/new/gone"],
             "patches": [{"target": "Deployment/new/w", "op": "remove-env", "container": "main",
                          "names": ["Z"], "reason": "the variable is gone upstream"},
                         {"target": "Deployment/old/w", "op": "remove-container", "container": "proxy",
                          "reason": "the proxy only fronts metrics"}]}]}},
    }
    catalog = decode_catalog(data, tmp_path / "catalog.yaml")
    profile = profiles.Profile("p", "", ("object-store",), tmp_path / "p.yaml")
    with pytest.raises(InvalidDocument) as info:
        assemble(profile, catalog)
    assert info.value.problems == [
        "components.object-store.sources[0].drop: Service/new/gone is not in source 'up'",
        "components.object-store.sources[0].patches[0] (remove-env Deployment/new/w): "
        "env ['Z'] not set in container 'main'",
        "components.object-store.sources[0].patches[1]: target Deployment/old/w not in the trimmed source",
    ]


def test_catalog_exception_rules_are_review_rules() -> None:
    # `appliance review` refuses exception records naming unknown rules: keep the ids in step.
    from appliance.harden import security_context
    from appliance.review import engine

    known = engine.known_rules()
    rules = {e.rule for c in load_catalog().components.values() for e in c.exceptions}
    assert rules and rules <= known
    pss_ids = {v for k, v in vars(security_context).items() if isinstance(v, str) and v.startswith("pss.")}
    assert pss_ids <= known, pss_ids - known


def test_profile_posture_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: appliance.dev/v1alpha1\nkind: Profile\nmetadata: {name: p}\n"
                    "spec:\n  components: [object-store, pipelines, pipelines]\n  posture: lax\n")
    with pytest.raises(InvalidDocument) as info:
        profiles.load(str(path))
    assert info.value.problems == ["spec.posture: expected one of restricted, baseline, got 'lax'",
                                   "spec.components: 'pipelines' listed more than once"]
    path.write_text("apiVersion: appliance.dev/v1alpha1\nkind: Profile\nmetadata: {name: p}\n"
                    "spec:\n  components: [object-store]\n  posture: baseline\n")
    assert profiles.load(str(path)).posture == "baseline"
    assert profiles.load("standard").posture == "restricted"
    assert "catalog" not in profiles.available() and "images.lock" not in profiles.available()
