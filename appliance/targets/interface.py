"""The Target interface every target implements, its options, and the records it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.doctor import Check

if TYPE_CHECKING:
    from appliance.stack import Stack


@dataclass(frozen=True)
class UpOptions:
    """What `up` may be asked besides the stack's name and profile; each target reads its own."""

    port: int | None = None  # local: the object store's port; clusters: its forwarded port
    retain: bool = False  # clusters: keep what was created when `up` fails (for debugging)
    timeout: float | None = None  # clusters: cap on the whole bring-up, in seconds
    context: str | None = None  # kube: the kubeconfig context of the existing cluster
    node_image: str | None = None  # kind: override the pinned node image
    stubs_image: str | None = None  # clusters: the stubs image reference
    # kind: containerd mirrors (registry host -> pull-through cache URL) written into the node
    registry_cache: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    endpoint: str
    healthy: bool
    detail: str
    pid: int | None = None  # process-backed components only (the local target)
    uptime_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "healthy": self.healthy,
            "detail": self.detail,
            "pid": self.pid,
            "uptime_seconds": None if self.uptime_seconds is None else round(self.uptime_seconds, 1),
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass(frozen=True)
class StackStatus:
    name: str
    target: str
    profile: str
    uptime_seconds: float
    components: tuple[ComponentStatus, ...]

    @property
    def healthy(self) -> bool:
        return all(c.healthy for c in self.components)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "profile": self.profile,
            "healthy": self.healthy,
            "uptime_seconds": round(self.uptime_seconds, 1),
            "components": [c.to_dict() for c in self.components],
        }


class Target(Protocol):
    """Brings stacks up, reports them, tears them down and hands out Stack handles."""

    name: str

    def preflight(self, profile: Profile | None = None, options: UpOptions | None = None) -> list[Check]:
        """What this target needs of the machine (`doctor` prints it; `up` refuses on errors)."""
        ...

    def up(self, name: str, profile: Profile, options: UpOptions, console: Console) -> StackStatus:
        """Start the stack (idempotent for the same request); return its status."""
        ...

    def status(self, name: str) -> StackStatus | None:
        """Probe the stack; None when no stack of that name exists."""
        ...

    def down(self, name: str, console: Console, delete_crds: bool = False) -> bool:
        """Stop everything of the stack and remove its state; False when nothing was up.
        `delete_crds`: also delete the CRDs the stack installed (kube; a kind cluster goes whole)."""
        ...

    def stack(self, name: str) -> Stack:
        """A handle for a running stack (object store, engines)."""
        ...

    def collect_diagnostics(self, name: str, out_dir: Path) -> list[Path]:
        """Write what explains the stack's state (logs, events, status) under out_dir."""
        ...
