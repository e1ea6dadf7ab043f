"""What every target records about a deployment: its name rule, model reference, endpoint and health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.errors import BadInput
from appliance.gates.registry import MODEL_NAME
from appliance.serving.endpoint import Endpoint

# A DNS label, as KServe InferenceService names are; short enough for component and log names.
# The registry's model-name rule, so that `serve sync MODEL` accepts every registered model.
NAME_PATTERN = MODEL_NAME


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise BadInput(
            f"invalid deployment name {name!r}",
            "names are DNS labels: 1-45 lowercase letters, digits or '-', starting and ending alphanumeric",
            "pick a name such as 'iris' or 'churn-v2'",
        )
    return name


@dataclass(frozen=True)
class ModelRef:
    """A model artifact: where it is and the version it declares."""

    uri: str
    version: str

    def to_dict(self) -> dict[str, str]:
        return {"model_uri": self.uri, "version": self.version}


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str


@dataclass(frozen=True)
class Deployment:
    """One deployment as every target reports it; targets may extend it with their own fields."""

    name: str
    endpoint: Endpoint
    model: ModelRef
    previous: ModelRef | None
    generation: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.model.to_dict(),
            "previous": self.previous.to_dict() if self.previous else None,
            "generation": self.generation,
            "url": self.endpoint.url,
            "v1_url": self.endpoint.v1_url,
            "v2_url": self.endpoint.v2_url,
        }


@dataclass(frozen=True)
class SyncResult:
    deployment: Deployment
    changed: bool


@dataclass(frozen=True)
class Follower:
    """A background follower of the registry: which model, how often, and where it runs."""

    model: str
    interval: float
    detail: str  # e.g. "pid 1234"


@dataclass(frozen=True)
class ProcessFollower(Follower):
    """A follower that runs as a background process on this machine (on every target so far)."""

    pid: int


# Seconds between two registry reads of a follower (`appliance serve follow --interval`).
DEFAULT_INTERVAL = 2.0
