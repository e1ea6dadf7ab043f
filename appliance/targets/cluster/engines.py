"""The engines a cluster stack (kind or kube) provides, declared once for both targets; each factory
imports its engine when first used (kfp is slow to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.stack import Engines

if TYPE_CHECKING:
    from appliance.pipelines.interface import PipelinesEngine
    from appliance.serving.interface import ServingEngine
    from appliance.stack import Stack
    from appliance.tuning.interface import TuningEngine


def pipelines(stack: Stack) -> PipelinesEngine:
    from appliance.targets.cluster.pipelines import pipelines as engine

    return engine(stack)


def tuning(stack: Stack) -> TuningEngine:
    from appliance.targets.cluster.tuning import engine

    return engine(stack)


def serving(stack: Stack) -> ServingEngine:
    from appliance.targets.cluster.deployment_forwards import ProcessForwards
    from appliance.targets.cluster.serving import engine, of_stack

    return engine(stack, ProcessForwards(stack.run_dir, of_stack(stack.name, stack.run_dir)))


def cluster_engines() -> Engines:
    return Engines(pipelines=pipelines, tuning=tuning, serving=serving)
