"""Typed, immutable model of profiles/catalog.yaml (decoding lives in catalog/decode.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.k8s.refs import ResourceRef
from appliance.k8s.scope import BUILTIN_CLUSTER_SCOPED

# Kinds that live outside namespaces, so that "Kind/name" refs are unambiguous: the built-ins, and
# the custom kinds of the catalog's components (a catalog has no CRD at hand to ask).
CLUSTER_SCOPED_KINDS = BUILTIN_CLUSTER_SCOPED | {
    "ClusterServingRuntime",
    "ClusterStorageContainer",
    "ClusterIssuer",
    "ClusterTrainingRuntime",
    "LLMInferenceServiceConfig",
}


@dataclass(frozen=True)
class GitPin:
    """A render of a repository at a commit: `kubectl kustomize` of each path, joined with ---,
    then text substitutions, then strategic-merge `patches` applied by a wrapper kustomization.
    `kustomize` is the kustomize version the pinned sha256 was made with."""

    repo: str
    commit: str
    paths: tuple[str, ...]
    substitutions: tuple[tuple[str, str], ...] = ()
    patches: tuple[dict[str, Any], ...] = ()
    kustomize: str = ""


@dataclass(frozen=True)
class Source:
    """A pinned upstream manifest file: its cache name, sha256, and where it comes from."""

    id: str
    file: str
    sha256: str
    url: str = ""
    git: GitPin | None = None
    note: str = ""


@dataclass(frozen=True)
class Patch:
    """One rewiring/sizing edit of one object (op-specific fields in `args`), and why."""

    target: ResourceRef
    op: str
    args: dict[str, Any]
    reason: str = ""


@dataclass(frozen=True)
class SourceUse:
    """How a component uses one source: namespace moves, then keep/drop, then patches."""

    source: str
    namespaces: dict[str, str] = field(default_factory=dict)
    keep: tuple[ResourceRef, ...] = ()
    drop: tuple[ResourceRef, ...] = ()
    patches: tuple[Patch, ...] = ()


@dataclass(frozen=True)
class CredentialSpec:
    """A Secret whose listed keys hold credentials generated at install time."""

    secret: ResourceRef
    keys: dict[str, str]


@dataclass(frozen=True)
class Peer:
    """A network peer: pods (a LabelSelector) in a namespace ('*' = any), or anywhere."""

    namespace: str = ""
    pods: dict[str, Any] | None = None
    anywhere: bool = False


@dataclass(frozen=True)
class Allow:
    """Traffic the component needs: from peers to pods on TCP ports."""

    name: str
    to: Peer
    ports: tuple[int, ...]
    sources: tuple[Peer, ...]


@dataclass(frozen=True)
class ApiServerAccess:
    """Pods that call the Kubernetes API server (in `namespace`; '' = the component's own)."""

    name: str
    pods: dict[str, Any]
    namespace: str = ""


@dataclass(frozen=True)
class ExceptionSpec:
    """A hardening or review rule accepted for one resource, with its justification."""

    rule: str
    resource: ResourceRef
    reason: str
    container: str | None = None  # only this container of the resource; None: all of it

    def covers(self, rule: str, resource: ResourceRef, container: str | None = None) -> bool:
        return (self.rule == rule and self.resource == resource
                and (self.container is None or self.container == container))

    def as_record(self) -> dict[str, Any]:
        record = {"rule": self.rule, "resource": self.resource.as_record(), "reason": self.reason}
        if self.container is not None:
            record["container"] = self.container
        return record


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    namespaces: tuple[str, ...]
    builtin: tuple[str, ...] = ()
    sources: tuple[SourceUse, ...] = ()
    credentials: tuple[CredentialSpec, ...] = ()
    api_server: tuple[ApiServerAccess, ...] = ()
    allows: tuple[Allow, ...] = ()
    exceptions: tuple[ExceptionSpec, ...] = ()
    # Labels this component needs on the workload namespace; None: it runs no workloads there.
    workload_labels: dict[str, str] | None = None


@dataclass(frozen=True)
class Catalog:
    kubernetes_version: str
    default_resources: dict[str, dict[str, str]]
    sources: dict[str, Source]
    components: dict[str, Component]
    comparison: str
    path: str
    # The appliance-owned namespace where users' workloads run (trials, predictors); '' = none.
    workload_namespace: str = ""

    def workload_namespace_for(self, components: tuple[str, ...]) -> str:
        """The workload namespace when one of `components` runs workloads there, else ''."""
        used = any(self.components[c].workload_labels is not None for c in components
                   if c in self.components)
        return self.workload_namespace if used else ""
