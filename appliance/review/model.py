"""The review's result model: severities, rules, findings with fingerprints, inventory, report."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from appliance.k8s.refs import ResourceRef

PathPart = str | int
Path = tuple[PathPart, ...]


class Severity(StrEnum):
    """Finding severity; the order critical > high > medium > low drives gating and sorting."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {text!r} (expected one of: {', '.join(SEVERITY_NAMES)})"
            ) from None

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}
SEVERITY_NAMES = tuple(s.value for s in Severity)


@dataclass(frozen=True)
class Rule:
    """A rule's catalog entry: what it checks, its default severity and how to fix a finding."""

    id: str
    title: str
    severity: Severity
    help: str
    family: str


@dataclass(frozen=True)
class Location:
    """Where a finding points: the source file (or label), its document index, a 1-based line."""

    source: str
    document: int
    line: int


@dataclass(frozen=True)
class Suppression:
    """Why a finding is suppressed: an exception's reason, origin and optional expiry."""

    reason: str
    origin: str
    expires: str | None = None


def render_path(path: Path) -> str:
    """A field path as text: `spec.containers[0].securityContext`, keys with dots quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and all(c.isalnum() or c in "_-$" for c in part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


_PATH_TOKEN = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.\[\]]+)')


def parse_path(text: str) -> Path:
    """The inverse of render_path (used to read findings back from a JSON report)."""
    parts: list[PathPart] = []
    for quoted, index, plain in _PATH_TOKEN.findall(text):
        if index:
            parts.append(int(index))
        else:
            parts.append(quoted or plain)
    return tuple(parts)


def fingerprint_of(rule: str, kind: str, namespace: str, name: str, container: str | None,
                   path: str) -> str:
    """A finding's identity without lines or formatting: stable when the file is edited elsewhere."""
    key = "\x1f".join([rule, kind, namespace, name, container or "", path])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Finding:
    """One problem with one object (and container), at one field path."""

    rule: str
    severity: Severity
    resource: ResourceRef
    container: str | None
    path: Path
    message: str
    fix: str
    evidence: tuple[str, ...] = ()
    location: Location | None = None
    suppression: Suppression | None = None
    new: bool | None = None  # set only when a baseline was given

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None

    @property
    def path_text(self) -> str:
        return render_path(self.path)

    @property
    def fingerprint(self) -> str:
        r = self.resource
        return fingerprint_of(self.rule, r.kind, r.namespace, r.name, self.container,
                              self.path_text)

    def sort_key(self) -> tuple[Any, ...]:
        return (
            -self.severity.rank,
            self.rule,
            self.resource.kind,
            self.resource.namespace,
            self.resource.name,
            self.container or "",
            self.path_text,
            self.message,
        )

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """The deterministic report order: severity (worst first), rule, resource, container, path."""
    return sorted(findings, key=Finding.sort_key)


@dataclass
class Inventory:
    """What the bundle contains and exposes: the attack-surface summary next to the findings."""

    objects: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    pods: int = 0
    pod_templates: int = 0
    containers: int = 0
    images: list[str] = field(default_factory=list)
    images_without_digest: list[str] = field(default_factory=list)
    privileged_containers: list[str] = field(default_factory=list)
    root_containers: list[str] = field(default_factory=list)
    host_access: list[str] = field(default_factory=list)
    cluster_wide_permissions: list[str] = field(default_factory=list)
    exposed_services: list[str] = field(default_factory=list)
    crds: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "kinds": dict(sorted(self.kinds.items())),
            "namespaces": list(self.namespaces),
            "pods": self.pods,
            "pod_templates": self.pod_templates,
            "containers": self.containers,
            "images": list(self.images),
            "images_without_digest": list(self.images_without_digest),
            "privileged_containers": list(self.privileged_containers),
            "root_containers": list(self.root_containers),
            "host_access": list(self.host_access),
            "cluster_wide_permissions": list(self.cluster_wide_permissions),
            "exposed_services": list(self.exposed_services),
            "crds": list(self.crds),
            "webhooks": list(self.webhooks),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Report:
    """A review's result: sorted findings, the inventory, and what was reviewed."""

    findings: list[Finding]
    inventory: Inventory
    sources: list[str]
    kubernetes_version: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """Unsuppressed findings per severity (the JSON contract's `summary`)."""
        counts = {name: 0 for name in SEVERITY_NAMES}
        for finding in self.findings:
            if not finding.suppressed:
                counts[finding.severity.value] += 1
        return counts

    def suppressed_count(self) -> int:
        return sum(1 for f in self.findings if f.suppressed)

    def gating(self, fail_on: Severity) -> list[Finding]:
        """Findings that fail the gate: unsuppressed, at or above fail_on, and new if baselined."""
        return [
            f
            for f in self.findings
            if not f.suppressed and f.severity.at_least(fail_on) and f.new is not False
        ]
