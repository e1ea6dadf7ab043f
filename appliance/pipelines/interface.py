"""The PipelinesEngine interface every target's pipelines engine implements."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from appliance.pipelines.loader import Pipeline
from appliance.pipelines.model import PipelineRun


class PipelinesEngine(Protocol):
    """Runs KFP v2 pipelines on a stack and reports what happened."""

    def run(
        self,
        pipeline: str | Path | Pipeline,
        arguments: Mapping[str, Any] | None = None,
        *,
        caching: bool = False,
        retries: int | None = None,
    ) -> PipelineRun:
        """Run to completion. A failing task gives a FAILED PipelineRun (not an exception);
        bad pipelines or arguments raise BadInput, unrunnable ones MissingPrerequisite."""
        ...
