"""The local target's engines, declared explicitly; each factory imports its engine when first used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.stack import Engines

if TYPE_CHECKING:
    from appliance.pipelines.interface import PipelinesEngine
    from appliance.serving.interface import ServingEngine
    from appliance.stack import Stack
    from appliance.tuning.interface import TuningEngine


def pipelines(stack: Stack) -> PipelinesEngine:
    from appliance.targets.local.pipelines.engine import LocalPipelinesEngine

    return LocalPipelinesEngine(stack.run_dir / "pipelines", stack.object_store.env())


def tuning(stack: Stack) -> TuningEngine:
    """Trials run under the stack's run dir and get its object store's environment (s3:// URIs)."""
    from appliance.targets.local.tuning.engine import LocalTuningEngine

    return LocalTuningEngine(stack.run_dir / "tuning", stack.object_store.env())


def serving(stack: Stack) -> ServingEngine:
    from appliance.targets.local.serving.engine import engine

    return engine(stack)


ENGINES = Engines(pipelines=pipelines, tuning=tuning, serving=serving)
