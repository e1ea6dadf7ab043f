"""The Target interface every target implements, and the status records it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from appliance.config.profile import Profile
from appliance.console import Console

if TYPE_CHECKING:
    from appliance.stack import Stack


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    endpoint: str
    healthy: bool
    detail: str
    pid: int
    uptime_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "healthy": self.healthy,
            "detail": self.detail,
            "pid": self.pid,
            "uptime_seconds": round(self.uptime_seconds, 1),
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

    def up(self, name: str, profile: Profile, port: int | None, console: Console) -> StackStatus:
        """Start the stack (idempotent for the same request); return its status."""
        ...

    def status(self, name: str) -> StackStatus | None:
        """Probe the stack; None when no stack of that name exists."""
        ...

    def down(self, name: str, console: Console) -> bool:
        """Stop everything of the stack and remove its state; False when nothing was up."""
        ...

    def stack(self, name: str) -> Stack:
        """A handle for a running stack (object store, engines)."""
        ...
