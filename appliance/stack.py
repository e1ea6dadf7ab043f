"""The Stack handle: what the CLI and the conformance suite use to talk to a running stack."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.config.profile import Profile
from appliance.errors import MissingPrerequisite
from appliance.objectstore import ObjectStore


@dataclass
class Stack:
    """A running stack. Engines are attached by the target; absent components raise."""

    name: str
    target: str
    profile: Profile
    object_store: ObjectStore
    run_dir: Path
    _engines: dict[str, Any] = field(default_factory=dict, repr=False)

    def require(self, component: str) -> None:
        if not self.profile.has(component):
            raise MissingPrerequisite(
                f"stack {self.name!r} has no {component} component",
                f"profile {self.profile.name!r} runs {', '.join(self.profile.components)}",
                "start a stack with a profile that includes it, e.g. --profile standard",
            )

    @property
    def pipelines(self) -> Any:
        self.require("pipelines")
        return self._engine("pipelines")

    @property
    def tuning(self) -> Any:
        self.require("tuning")
        return self._engine("tuning")

    @property
    def serving(self) -> Any:
        self.require("serving")
        return self._engine("serving")

    def _engine(self, component: str) -> Any:
        """Engines live in appliance/targets/<target>/<component>.py as `engine(stack)`."""
        if component not in self._engines:
            module_name = f"appliance.targets.{self.target}.{component}"
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                raise MissingPrerequisite(
                    f"the {component} engine is not available on the {self.target} target yet"
                ) from exc
            self._engines[component] = module.engine(self)
        return self._engines[component]
