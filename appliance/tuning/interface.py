"""The TuningEngine interface every target's tuning engine implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from appliance.tuning.model import Experiment
from appliance.tuning.result import ExperimentResult, Progress


class TuningEngine(Protocol):
    """Runs Katib v1beta1 Experiments on a stack and returns their Katib-shaped status."""

    def run(
        self,
        experiment: Experiment | Mapping[str, Any] | str | Path,
        progress: Callable[[Progress], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> ExperimentResult:
        """Run to a terminal condition. A failed experiment is a result (not an exception);
        invalid experiments raise BadInput, unrunnable ones MissingPrerequisite, and one still
        running after `timeout` seconds (None: the engine's default) raises TimedOut."""
        ...
