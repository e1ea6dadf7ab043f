"""The engines a cluster stack (kind or kube) provides, declared once for both targets; each factory
imports its engine when first used (kfp is slow to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.stack import Engines

if TYPE_CHECKING:
    from appliance.pipelines.interface import PipelinesEngine
    from appliance.stack import Stack


def pipelines(stack: Stack) -> PipelinesEngine:
    from appliance.targets.cluster.pipelines import pipelines as engine

    return engine(stack)


def cluster_engines() -> Engines:
    return Engines(pipelines=pipelines,
                   missing="the tuning and serving engines for clusters are not built yet (issue 14)")
