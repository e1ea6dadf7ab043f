"""ResourceRef: one object's identity (kind, namespace, name), as the catalog, harden and review use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class ResourceRef:
    """One object's identity: kind, namespace ('' when cluster-scoped) and name."""

    kind: str
    namespace: str
    name: str

    @staticmethod
    def parse(text: str) -> ResourceRef:
        """Parse 'Kind/name' (cluster-scoped) or 'Kind/namespace/name'; ValueError otherwise."""
        parts = text.split("/")
        if len(parts) == 2 and all(parts):
            return ResourceRef(parts[0], "", parts[1])
        if len(parts) == 3 and all(parts):
            return ResourceRef(parts[0], parts[1], parts[2])
        raise ValueError(f"expected Kind/name or Kind/namespace/name, got {text!r}")

    @staticmethod
    def of(obj: dict[str, Any]) -> ResourceRef:
        metadata = obj.get("metadata") or {}
        return ResourceRef(
            str(obj.get("kind", "")), str(metadata.get("namespace") or ""), str(metadata.get("name", ""))
        )

    def as_record(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"
