"""The PipelinesEngine interface every target's pipelines engine implements."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from appliance.console import Progress
from appliance.pipelines.loader import Pipeline
from appliance.pipelines.model import PipelineRun

# How long a run may take when the caller does not say, on every target (seconds).
DEFAULT_TIMEOUT = 20 * 60.0


class PipelinesEngine(Protocol):
    """Runs KFP v2 pipelines on a stack and reports what happened."""

    def run(
        self,
        pipeline: str | Path | Pipeline,
        arguments: Mapping[str, Any] | None = None,
        *,
        caching: bool = False,
        retries: int | None = None,
        timeout: float | None = None,
        progress: Progress | None = None,
    ) -> PipelineRun:
        """Run to completion. A failing task gives a FAILED PipelineRun (not an exception);
        bad pipelines or arguments raise BadInput, unrunnable ones MissingPrerequisite.

        `timeout` seconds (None: the engine's default, DEFAULT_TIMEOUT unless it was built with
        another): a run still going then is stopped (a cluster's KFP run terminated, the local
        task processes ended) and TimedOut (exit 4) is raised. An interrupt (KeyboardInterrupt)
        stops the run the same way before it propagates, with a note saying what was stopped.
        `progress` receives one-line progress reports while the run goes on."""
        ...
