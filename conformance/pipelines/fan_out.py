"""Reference pipeline: a ParallelFor fan-out over learning rates, collected into the best one.

kfp.local runs at most 2 iterations at a time; results are collected in completion order, so
each iteration returns its own lr with its score and pick_best does not rely on the order."""

from kfp import dsl

from conformance.pipelines.components import pick_best, score_lr

NAME = "fan-out"


@dsl.pipeline(name=NAME, description="Score learning rates in parallel; pick the best.")
def fan_out(lrs: list = [0.001, 0.01, 0.1, 0.03], depth: int = 6) -> str:  # noqa: B006
    with dsl.ParallelFor(lrs) as lr:
        scored = score_lr(lr=lr, depth=depth)
    return pick_best(results=dsl.Collected(scored.output)).output
