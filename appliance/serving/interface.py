"""The serving interfaces: the engine a Stack hands out, and the deployment backend a target provides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from appliance.console import Progress
from appliance.errors import EXIT_EXTERNAL, ApplianceError
from appliance.serving.endpoint import Endpoint
from appliance.serving.records import Deployment, Follower, Health, SyncResult


class RolloutFailed(ApplianceError):
    """A deploy or rollout that could not serve its model and changed nothing: the previous model
    (if any) keeps serving. Backends raise it, mixed into their own error types, for failures that
    retrying the same model would only repeat (it did not load or never became ready), so that the
    registry follower (serving/follow.py) waits for the registry to point elsewhere instead."""

    exit_code = EXIT_EXTERNAL


class ServingEngine(Protocol):
    """`stack.serving`: deploy / rollout / rollback / delete -> Endpoint, predict, registry sync."""

    def deploy(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Endpoint:
        """Serve `model_uri` as `name` (a rollout with no failed request when `name` exists);
        `progress` hears what a long wait waits for."""
        ...

    def rollout(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Endpoint: ...

    def rollback(self, name: str, *, progress: Progress | None = None) -> Endpoint: ...

    def delete(self, name: str) -> None: ...

    def get(self, name: str) -> Deployment | None: ...

    def require(self, name: str) -> Deployment:
        """The deployment, or BadInput naming the deployments there are."""
        ...

    def list(self) -> list[tuple[Deployment, Health]]: ...

    def endpoint(self, name: str) -> Endpoint: ...

    def predict(self, name: str, body: Any) -> dict[str, Any]: ...

    def sync(self, model: str, *, progress: Progress | None = None) -> SyncResult:
        """Serve the registry's champion of `model` as deployment `model`."""
        ...

    def follow(self, model: str, interval: float) -> Follower:
        """Keep deployment `model` on the registry's champion in the background."""
        ...

    def unfollow(self, model: str) -> bool: ...


class DeploymentBackend(Protocol):
    """What a target provides so that the shared engine (serving/engine.py) can serve on it."""

    def get(self, name: str) -> Deployment | None: ...

    def require(self, name: str) -> Deployment: ...

    def all(self) -> list[Deployment]: ...

    def health(self, deployment: Deployment) -> Health: ...

    def deploy(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Deployment:
        """Serve `model_uri` as `name`; RolloutFailed when it cannot (nothing else changed)."""
        ...

    def rollout(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Deployment: ...

    def rollback(self, name: str, *, progress: Progress | None = None) -> Deployment: ...

    def delete(self, name: str) -> None:
        """Stop serving `name` (its follower first, which would deploy it again)."""
        ...

    def start_follower(
        self, name: str, interval: float, argv: list[str], env: Mapping[str, str]
    ) -> Follower:
        """Start `argv` in the background as the follower of `name` (a running one is restarted)."""
        ...

    def stop_follower(self, name: str) -> bool:
        """Stop the follower of `name` (it finishes a rollout in progress); whether one ran."""
        ...
