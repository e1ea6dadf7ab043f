"""The deployments one test makes on the stack's serving engine, deleted when the test ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.instruments import StubModelHandle


@dataclass
class ServingSandbox:
    """`stack.serving`, remembering what this test deployed so that teardown removes it."""

    engine: Any
    names: list[str] = field(default_factory=list)

    def _track(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def deploy(self, model: StubModelHandle, name: str | None = None) -> Any:
        """Serve `model` as deployment `name` (default: the model's name); returns the Endpoint."""
        chosen = name or model.name
        self._track(chosen)
        return self.engine.deploy(chosen, model.uri)

    def rollout(self, name: str, model: StubModelHandle) -> Any:
        self._track(name)
        return self.engine.rollout(name, model.uri)

    def rollback(self, name: str) -> Any:
        return self.engine.rollback(name)

    def sync(self, model: str) -> Any:
        """Serve the registry's champion of `model` (deployment named after the model)."""
        self._track(model)
        return self.engine.sync(model)

    def endpoint(self, name: str) -> Any:
        return self.engine.endpoint(name)

    def cleanup(self) -> None:
        """Delete every deployment of this test; the first failure is raised after trying all."""
        failures: list[BaseException] = []
        for name in reversed(self.names):
            try:
                if self.engine.get(name) is not None:
                    self.engine.delete(name)
            except Exception as exc:  # keep deleting the others, then report
                failures.append(exc)
        self.names.clear()
        if failures:
            raise failures[0]
