"""Assembly: a profile's components from cached upstream sources and built-in parts, trimmed and
rewired per the catalog (no hardening yet), plus the workload namespace when a component runs
workloads there. Every catalog patch is recorded as a change with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.catalog.decode import CATALOG_PATH
from appliance.catalog.model import CLUSTER_SCOPED_KINDS, Catalog, Component, SourceUse
from appliance.config.profile import Profile
from appliance.errors import InvalidDocument
from appliance.harden.model import Change, Result
from appliance.k8s.refs import ResourceRef
from appliance.render.patches import PatchError, apply_patch, move_namespaces, patched_path
from appliance.sources.cache import read_documents

COMPONENT_LABEL = "appliance.dev/component"
# The workload namespace belongs to no single component: every component running workloads
# there contributes its labels.
WORKLOADS_COMPONENT = "workloads"
CATALOG_CHANGE = "catalog"


def assemble(profile: Profile, catalog: Catalog) -> Result:
    """Every object of the profile's components, each labelled with its component, and a change
    record per catalog patch."""
    problems: list[str] = []
    objects: list[dict[str, Any]] = []
    changes: list[Change] = []
    for name in profile.components:
        component = catalog.components.get(name)
        if component is None:
            problems.append(f"components.{name}: not in the catalog")
            continue
        for obj in _component_objects(component, catalog, problems, changes):
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            labels[COMPONENT_LABEL] = name
            objects.append(obj)
    users = [c for c in profile.components
             if c in catalog.components and catalog.components[c].workload_labels is not None]
    if users and catalog.workload_namespace:
        namespace = workload_namespace_object(catalog, users)
        objects.append(namespace)
        changes.append(Change(CATALOG_CHANGE, ResourceRef.of(namespace), "",
                              f"added: the workload namespace of {', '.join(users)}"))
    seen: dict[ResourceRef, str] = {}
    for obj in objects:
        ref = ResourceRef.of(obj)
        owner = obj["metadata"]["labels"][COMPONENT_LABEL]
        if ref in seen:
            problems.append(f"{ref}: defined by both {seen[ref]!r} and {owner!r}")
        seen[ref] = owner
    if problems:
        raise InvalidDocument(catalog.path, problems, "fix the catalog entries named above")
    return Result(objects, changes)


def workload_namespace_object(catalog: Catalog, users: list[str]) -> dict[str, Any]:
    """The Namespace where workloads run, with the labels each of its `users` needs."""
    labels: dict[str, str] = {}
    for component in users:
        labels.update(catalog.components[component].workload_labels or {})
    labels[COMPONENT_LABEL] = WORKLOADS_COMPONENT
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": catalog.workload_namespace, "labels": dict(sorted(labels.items()))}}


def _component_objects(
    component: Component, catalog: Catalog, problems: list[str], changes: list[Change]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for builtin in component.builtin:
        out += load_builtin(CATALOG_PATH.parent / builtin)
    for index, use in enumerate(component.sources):
        where = f"components.{component.name}.sources[{index}]"
        out += _use_source(use, catalog, where, problems, changes)
    return out


def load_builtin(path: Path) -> list[dict[str, Any]]:
    try:
        docs = [d for d in safe_yaml.load_all(path.read_text(encoding="utf-8"), str(path)) if d]
    except yaml.YAMLError as exc:
        raise InvalidDocument(str(path), [f"not valid YAML: {exc}".replace("\n", " ")]) from exc
    return docs


def _cluster_scoped(obj: dict[str, Any], changes: list[Change]) -> dict[str, Any]:
    # kustomize sets its namespace on custom resources it does not know to be cluster-scoped
    # (KServe's ClusterStorageContainer); the API server has no namespace for them.
    metadata = obj.get("metadata") or {}
    if obj.get("kind") not in CLUSTER_SCOPED_KINDS or not metadata.get("namespace"):
        return obj
    namespace = metadata["namespace"]
    new = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "namespace"}}
    changes.append(Change(CATALOG_CHANGE, ResourceRef.of(new), "metadata.namespace",
                          f"{namespace} -> removed ({new['kind']} is cluster-scoped)"))
    return new


def _use_source(
    use: SourceUse, catalog: Catalog, where: str, problems: list[str], changes: list[Change]
) -> list[dict[str, Any]]:
    scoped: list[Change] = []
    objects = [_cluster_scoped(move_namespaces(o, use.namespaces), scoped)
               for o in read_documents(catalog.sources[use.source])]
    refs = {ResourceRef.of(o) for o in objects}
    for kind, listed in (("keep", use.keep), ("drop", use.drop)):
        for ref in listed:
            if ref not in refs:
                problems.append(f"{where}.{kind}: {ref} is not in source {use.source!r}")
    if use.keep:
        keep = set(use.keep)
        objects = [o for o in objects if ResourceRef.of(o) in keep]
    drop = set(use.drop)
    objects = [o for o in objects if ResourceRef.of(o) not in drop]
    by_ref = {ResourceRef.of(o): i for i, o in enumerate(objects)}
    changes += [c for c in scoped if c.resource in by_ref]
    for index, patch in enumerate(use.patches):
        position = by_ref.get(patch.target)
        if position is None:
            problems.append(f"{where}.patches[{index}]: target {patch.target} not in the trimmed source")
            continue
        try:
            patched = apply_patch(objects[position], patch)
        except PatchError as exc:
            problems.append(f"{where}.patches[{index}] ({patch.op} {patch.target}): {exc}")
            continue
        detail = f"{patch.op}: {patch.reason}" if patch.reason else patch.op
        changes.append(Change(CATALOG_CHANGE, patch.target, patched_path(objects[position], patch),
                              detail))
        objects[position] = patched
    return objects
