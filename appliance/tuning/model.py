"""The typed view of a validated, defaulted Katib v1beta1 Experiment (what the engine runs)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "kubeflow.org/v1beta1"
KIND = "Experiment"

INT = "int"
DOUBLE = "double"
CATEGORICAL = "categorical"
DISCRETE = "discrete"

MINIMIZE = "minimize"
MAXIMIZE = "maximize"

UNAVAILABLE = "unavailable"  # Katib's consts.UnavailableMetricValue


@dataclass(frozen=True)
class Parameter:
    """One search-space dimension; numbers keep Katib's string form alongside the parsed value."""

    name: str
    type: str
    min: str = ""
    max: str = ""
    step: str = ""
    values: tuple[str, ...] = ()
    distribution: str = "uniform"

    @property
    def numeric(self) -> bool:
        return self.type in (INT, DOUBLE)


@dataclass(frozen=True)
class MetricStrategy:
    name: str
    value: str  # min | max | latest


@dataclass(frozen=True)
class Objective:
    type: str
    metric: str
    goal: float | None = None
    additional: tuple[str, ...] = ()
    strategies: tuple[MetricStrategy, ...] = ()

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Objective first, as Katib passes them to its collectors."""
        return (self.metric, *self.additional)

    def strategy(self, name: str) -> str:
        for entry in self.strategies:
            if entry.name == name:
                return entry.value
        return ""


@dataclass(frozen=True)
class Setting:
    name: str
    value: str


@dataclass(frozen=True)
class Algorithm:
    name: str
    settings: tuple[Setting, ...] = ()

    def setting(self, name: str) -> str | None:
        for entry in self.settings:
            if entry.name == name:
                return entry.value
        return None


@dataclass(frozen=True)
class TrialParameter:
    name: str
    reference: str
    description: str = ""


@dataclass(frozen=True)
class Collector:
    """StdOut or File (TEXT/JSON); `path` is the absolute path inside the trial's container."""

    kind: str
    path: str = ""
    format: str = "TEXT"
    filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """A validated Experiment: the defaulted manifest plus the typed fields the engine reads."""

    name: str
    namespace: str
    manifest: dict[str, Any]
    parameters: tuple[Parameter, ...]
    objective: Objective
    algorithm: Algorithm
    early_stopping: Algorithm | None
    trial_parameters: tuple[TrialParameter, ...]
    trial_spec: dict[str, Any]
    primary_container: str
    parallel_trial_count: int
    max_trial_count: int | None
    max_failed_trial_count: int | None
    collector: Collector
    notes: tuple[str, ...] = field(default=())

    def document(self) -> dict[str, Any]:
        """A deep copy of the defaulted manifest (apiVersion, kind, metadata, spec)."""
        return copy.deepcopy(self.manifest)

    def parameter(self, name: str) -> Parameter | None:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        return None
