"""The serving engine targets share: predictions and registry sync over a target's deployment backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import requests

from appliance.console import Progress
from appliance.errors import BadInput, ExternalCommandFailed
from appliance.serving.endpoint import Endpoint
from appliance.serving.interface import DeploymentBackend
from appliance.serving.records import Deployment, Follower, Health, SyncResult, validate_name

PREDICT_TIMEOUT = 60.0
# (model, interval) -> the follower's argv and environment (the target knows how to find its stack).
FollowerCommand = Callable[[str, float], tuple[list[str], dict[str, str]]]


class ChampionEntry(Protocol):
    model_uri: str


class ChampionSource(Protocol):
    """What sync needs from the model registry (appliance/gates/registry.py)."""

    def champion(self, model: str) -> Any: ...


class BackendServingEngine:
    """A ServingEngine (serving/interface.py) over a target's DeploymentBackend."""

    def __init__(
        self,
        deployments: DeploymentBackend,
        registry: Callable[[], ChampionSource],
        follower_command: FollowerCommand | None = None,
    ) -> None:
        self.deployments = deployments
        self._registry = registry
        self._follower_command = follower_command

    def registry(self) -> ChampionSource:
        return self._registry()

    def deploy(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Endpoint:
        """Start serving `model_uri` as `name` (a zero-downtime rollout when `name` exists)."""
        return self.deployments.deploy(name, model_uri, progress=progress).endpoint

    def rollout(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Endpoint:
        return self.deployments.rollout(name, model_uri, progress=progress).endpoint

    def rollback(self, name: str, *, progress: Progress | None = None) -> Endpoint:
        return self.deployments.rollback(name, progress=progress).endpoint

    def delete(self, name: str) -> None:
        self.deployments.delete(name)

    def get(self, name: str) -> Deployment | None:
        return self.deployments.get(name)

    def require(self, name: str) -> Deployment:
        return self.deployments.require(name)

    def list(self) -> list[tuple[Deployment, Health]]:
        return [(d, self.deployments.health(d)) for d in self.deployments.all()]

    def endpoint(self, name: str) -> Endpoint:
        return self.deployments.require(name).endpoint

    def predict(self, name: str, body: Any) -> dict[str, Any]:
        """POST `body` to the v1 or v2 URL (told apart by the body) of deployment `name`."""
        url = self.endpoint(name).url_for(body)
        try:
            response = requests.post(url, json=body, timeout=PREDICT_TIMEOUT)
        except requests.exceptions.InvalidJSONError as exc:
            # The body could not be encoded (NaN or Infinity): the caller's input, not the server.
            raise BadInput(f"the request body for {name!r} is not valid JSON",
                           " ".join(str(exc).split()),
                           "send finite numbers only (JSON has no NaN or Infinity)") from exc
        except requests.RequestException as exc:
            raise ExternalCommandFailed(
                f"POST {url}", "", f"{type(exc).__name__}",
                "check the deployment with 'appliance serve list'",
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 200 and isinstance(answer, dict):
            return answer
        message = answer.get("error", answer) if isinstance(answer, dict) else response.text[:500]
        if 400 <= response.status_code < 500:
            raise BadInput(f"deployment {name!r} rejected the request (HTTP {response.status_code})",
                           str(message), "fix the request body (see docs/serving.md)")
        raise ExternalCommandFailed(f"POST {url}", response.text[:2000],
                                    f"HTTP {response.status_code}: {message}")

    def sync(self, model: str, *, progress: Progress | None = None) -> SyncResult:
        """Serve the registry's champion of `model` as deployment `model` (a rollout if it changed)."""
        validate_name(model)
        entry = self._registry().champion(model)
        if entry is None:
            raise BadInput(
                f"model {model!r} has no champion in the registry",
                "nothing was promoted yet",
                # No command promotes by hand: a gated pipeline (or Registry.promote) does.
                f"promote one with a gated pipeline, e.g. appliance run "
                f"conformance/pipelines/train_gate_promote.py --param model={model}, then sync",
            )
        current = self.deployments.get(model)
        if current is not None and current.model.uri == entry.model_uri:
            if self.deployments.health(current).healthy:
                return SyncResult(current, changed=False)
        return SyncResult(self.deployments.deploy(model, entry.model_uri, progress=progress), changed=True)

    def follow(self, model: str, interval: float) -> Follower:
        """Keep deployment `model` on the registry's champion: a background sync every `interval` s."""
        validate_name(model)
        if not 0.1 <= interval <= 3600:
            raise BadInput(f"invalid interval {interval:g}s", "it must be between 0.1 and 3600 seconds",
                           "use e.g. --interval 2")
        if self._follower_command is None:
            raise BadInput("this target cannot follow the registry", "", "call sync instead")
        argv, env = self._follower_command(model, interval)
        return self.deployments.start_follower(model, interval, argv, env)

    def unfollow(self, model: str) -> bool:
        return self.deployments.stop_follower(validate_name(model))
