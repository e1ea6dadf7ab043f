"""Reference pipeline: a ParallelFor fan-out over learning rates, collected into the best one.

kfp.local runs at most 2 iterations at a time and collects results in iteration order; each
iteration still returns its own lr with its score, so pick_best needs no order at all."""

from kfp import dsl

from conformance.pipelines.components import pick_best, score_lr

NAME = "fan-out"


@dsl.pipeline(name=NAME, description="Score learning rates in parallel; pick the best.")
def fan_out(lrs: list = [0.001, 0.01, 0.1, 0.03], depth: int = 6) -> str:  # noqa: B006
    with dsl.ParallelFor(lrs) as lr:
        scored = score_lr(lr=lr, depth=depth)
    return pick_best(results=dsl.Collected(scored.output)).output
