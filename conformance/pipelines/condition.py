"""Reference pipeline: a condition on a measured metric (dsl.If / dsl.Elif / dsl.Else).

Scores (lr, depth) with the stub trainer's known accuracy function, then takes exactly one
branch: ready (>= 0.9), review (>= 0.8) or retrain; the branches not taken are SKIPPED."""

from kfp import dsl

from conformance.pipelines.components import BASE_IMAGE, report, score_lr

NAME = "condition"


@dsl.component(base_image=BASE_IMAGE)
def read_accuracy(scored: str) -> float:
    import json

    return float(json.loads(scored)["accuracy"])


@dsl.pipeline(name=NAME, description="Branch on the stub trainer's accuracy.")
def condition(lr: float = 0.01, depth: int = 6) -> None:
    scored = score_lr(lr=lr, depth=depth)
    accuracy = read_accuracy(scored=scored.output)
    with dsl.If(accuracy.output >= 0.9):
        report(message="ready")
    with dsl.Elif(accuracy.output >= 0.8):
        report(message="review")
    with dsl.Else():
        report(message="retrain")
