"""How long the suite lets each run take, per target: settings of the suite, never edits of its assertions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """Seconds one pipeline run and one Katib Experiment may take before the engine stops them."""

    pipeline_run: float
    experiment: float


# Local runs are processes on this machine: minutes at most. On a cluster every step is a pod
# (scheduling, image from the node's cache, KFP's driver and launcher), and the reference grid
# experiment's 7-odd trials each a Job; the figures are the engines' defaults (kind.md §7.4).
BUDGETS = {
    "local": Budget(pipeline_run=10 * 60.0, experiment=10 * 60.0),
    "kind": Budget(pipeline_run=20 * 60.0, experiment=30 * 60.0),
    "kube": Budget(pipeline_run=20 * 60.0, experiment=30 * 60.0),
}
# A target the suite does not know yet gets the most patient figures.
UNKNOWN = Budget(pipeline_run=max(b.pipeline_run for b in BUDGETS.values()),
                 experiment=max(b.experiment for b in BUDGETS.values()))


def budget_for(target: str) -> Budget:
    return BUDGETS.get(target, UNKNOWN)
