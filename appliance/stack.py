"""The Stack handle: what the CLI and the conformance suite use to talk to a running stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from appliance.config.profile import Profile
from appliance.errors import MissingPrerequisite

if TYPE_CHECKING:
    from appliance.objectstore import ObjectStore
    from appliance.pipelines.interface import PipelinesEngine
    from appliance.serving.interface import ServingEngine
    from appliance.tuning.interface import TuningEngine

COMPONENT_ENGINES = ("pipelines", "tuning", "serving")
E = TypeVar("E")


@dataclass(frozen=True)
class Engines:
    """The engines a target provides: a factory per component (importing lazily: kfp and Optuna
    are slow to import), or None with `missing` saying why that target refuses it on purpose."""

    pipelines: Callable[[Stack], PipelinesEngine] | None = None
    tuning: Callable[[Stack], TuningEngine] | None = None
    serving: Callable[[Stack], ServingEngine] | None = None
    missing: str = "not available on this target"

    def factory(self, component: str) -> Callable[[Stack], Any] | None:
        if component not in COMPONENT_ENGINES:
            raise KeyError(component)
        found: Callable[[Stack], Any] | None = getattr(self, component)
        return found


@dataclass
class Stack:
    """A running stack. Engines come from the target's `Engines`; absent components raise."""

    name: str
    target: str
    profile: Profile
    object_store: ObjectStore
    run_dir: Path
    engines: Engines = field(default_factory=Engines, repr=False)
    # What a target adds to the environment tools need (a cluster stack's KUBECONFIG).
    target_env: dict[str, str] = field(default_factory=dict)
    _built: dict[str, Any] = field(default_factory=dict, repr=False)

    def env(self) -> dict[str, str]:
        """Exports for tools: the object store's (AWS_*), then the target's own."""
        return {**self.object_store.env(), **self.target_env}

    def require(self, component: str) -> None:
        if not self.profile.has(component):
            raise MissingPrerequisite(
                f"stack {self.name!r} has no {component} component",
                f"profile {self.profile.name!r} runs {', '.join(self.profile.components)}",
                "start a stack with a profile that includes it, e.g. --profile standard",
            )

    @property
    def pipelines(self) -> PipelinesEngine:
        return self._engine("pipelines", self.engines.pipelines)

    @property
    def tuning(self) -> TuningEngine:
        return self._engine("tuning", self.engines.tuning)

    @property
    def serving(self) -> ServingEngine:
        return self._engine("serving", self.engines.serving)

    def _engine(self, component: str, factory: Callable[[Stack], E] | None) -> E:
        self.require(component)
        if factory is None:
            raise MissingPrerequisite(
                f"the {component} engine is not available on the {self.target} target",
                self.engines.missing,
                "use --target local",
            )
        if component not in self._built:
            self._built[component] = factory(self)
        built: E = self._built[component]
        return built
