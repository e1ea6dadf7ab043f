"""The one Kubernetes seam: the KubeClient protocol, object references and the API's errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.errors import EXIT_EXTERNAL, ApplianceError

Obj = dict[str, Any]
Objs = list[Obj]  # an alias: inside KubeClient, `list` names the method, not the builtin

FIELD_MANAGER = "appliance"
# Status 0 stands for "no HTTP answer at all" (refused, reset, timed out before a response).
NO_RESPONSE = 0


@dataclass(frozen=True)
class ObjRef:
    """Which object: enough to address it on the API (group/version, kind, name, namespace)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: Obj) -> ObjRef:
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""),
                   str(meta.get("name") or ""), meta.get("namespace") or None)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


class ApiError(ApplianceError):
    """The API server refused or failed a request: HTTP status, reason and the server's message."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Kubernetes API request failed: {message} ({status} {reason})", "",
                         "check the cluster with 'appliance status' or 'appliance diagnose'")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, "NotFound", message)


class Conflict(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(409, "Conflict", message)


# Messages of failures that go away by themselves: the API server restarting or overloaded,
# etcd slow on a busy laptop (kind.md §7.2 action 9).
_TRANSIENT_TEXT = ("connection refused", "etcdserver: request timed out", "etcdserver: leader changed",
                   "the server is currently unable to handle the request", "too many requests",
                   "connection reset by peer", "i/o timeout")


def is_transient(error: ApiError) -> bool:
    """Worth retrying: no answer, 429, 5xx, or an etcd/transport hiccup in the message."""
    if error.status == NO_RESPONSE or error.status == 429 or error.status >= 500:
        return True
    text = error.message.lower()
    return any(marker in text for marker in _TRANSIENT_TEXT)


class KubeClient(Protocol):
    """Every Kubernetes call the appliance makes. Objects are plain dicts as the API returns them."""

    def apply(self, objs: Sequence[Obj], field_manager: str = FIELD_MANAGER,
              force: bool = True) -> Objs:
        """Server-side apply each object in order; returns the server's version of each."""
        ...

    def get(self, ref: ObjRef) -> Obj | None:
        """The object, or None when it (or its kind) does not exist."""
        ...

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             labels: dict[str, str] | None = None) -> Objs:
        """Objects of a kind (all namespaces when namespace is None), filtered by labels."""
        ...

    def delete(self, ref: ObjRef, propagation: str = "Foreground") -> bool:
        """Request deletion; False when there was nothing to delete."""
        ...

    def pod_logs(self, namespace: str, pod: str, container: str | None = None,
                 previous: bool = False, tail: int = 50) -> str:
        ...

    def events(self, namespace: str, involved: ObjRef | None = None) -> Objs:
        """Core v1 Events of a namespace, optionally only those about one object."""
        ...

    def server_version(self) -> str:
        """The API server's gitVersion, e.g. v1.34.11."""
        ...

    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None) -> bool:
        """A SelfSubjectAccessReview: may the current identity do verb on resource?"""
        ...
