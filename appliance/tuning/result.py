"""What a tuning engine reports on every target: live Progress snapshots and the ExperimentResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.tuning.model import Experiment
from appliance.tuning.status import FAILED, SUCCEEDED


@dataclass(frozen=True)
class Progress:
    """A snapshot for a live progress line."""

    experiment: str
    condition: str
    trials: int
    done: int  # trials whose process ended (accounted for or waiting for earlier trials)
    running: int
    succeeded: int
    failed: int
    early_stopped: int
    metrics_unavailable: int
    best_trial: str = ""
    best_value: str = ""
    metric: str = ""


@dataclass
class ExperimentResult:
    """The finished experiment as Katib would show it, plus its trials."""

    experiment: Experiment
    document: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)
    work_dir: Path | None = None

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.document["status"])

    @property
    def condition(self) -> dict[str, str]:
        """The terminal condition (Succeeded or Failed)."""
        for item in self.document["status"]["conditions"]:
            if item["type"] in (SUCCEEDED, FAILED) and item["status"] == "True":
                return dict(item)
        return {}

    @property
    def succeeded(self) -> bool:
        return self.condition.get("type") == SUCCEEDED

    @property
    def best(self) -> dict[str, Any]:
        return dict(self.document["status"].get("currentOptimalTrial") or {})
