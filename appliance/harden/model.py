"""What hardening transforms share: their input context, change records and pod-template walking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from appliance.catalog.model import Allow, ApiServerAccess, CredentialSpec, ExceptionSpec
from appliance.k8s.refs import ResourceRef

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


@dataclass(frozen=True)
class Change:
    """One edit a transform made: which object, which field, what happened."""

    transform: str
    resource: ResourceRef
    path: str
    detail: str

    def as_record(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "resource": self.resource.as_record(),
            "path": self.path,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class HardenContext:
    """Everything the transforms read besides the objects; built from the catalog and profile."""

    profile: str
    posture: str = "restricted"
    kubernetes_version: str = "1.32"
    owned_namespaces: tuple[str, ...] = ()
    default_resources: dict[str, dict[str, str]] = field(default_factory=dict)
    credentials: tuple[CredentialSpec, ...] = ()
    api_server: tuple[tuple[str, ApiServerAccess], ...] = ()  # (namespace, access)
    allows: tuple[Allow, ...] = ()
    exceptions: tuple[ExceptionSpec, ...] = ()
    image_lock: dict[str, str] = field(default_factory=dict)

    def excepted(self, rule: str, ref: ResourceRef, container: str | None = None) -> bool:
        """A catalog exception accepts `rule` for ref (for the named container, when given)."""
        return any(e.covers(rule, ref, container) for e in self.exceptions)


@dataclass(frozen=True)
class Result:
    """A transform's output: the new object list (inputs untouched), what it changed, and what it
    could not fix (each needs a catalog exception with a justification)."""

    objects: list[dict[str, Any]]
    changes: list[Change]
    unresolved: list[str] = field(default_factory=list)


def copy(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy (JSON round trip: manifests are JSON data, and this is fast)."""
    copied: dict[str, Any] = json.loads(json.dumps(obj))
    return copied


def pod_spec(obj: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a workload and its field path, or None."""
    kind = obj.get("kind")
    spec = obj.get("spec")
    if kind not in WORKLOAD_KINDS or not isinstance(spec, dict):
        return None
    if kind == "Pod":
        return spec, "spec"
    if kind == "CronJob":
        template = spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
        path = "spec.jobTemplate.spec.template.spec"
    else:
        template = spec.get("template", {})
        path = "spec.template.spec"
    inner = template.get("spec") if isinstance(template, dict) else None
    return (inner, path) if isinstance(inner, dict) else None


def containers(spec: dict[str, Any], path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every container of a pod spec (init and ephemeral included), with its field path."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(key) or []):
            if isinstance(container, dict):
                yield container, f"{path}.{key}[{index}]"
