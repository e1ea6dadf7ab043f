"""A condition on a named output, in a pipeline named like one of its components."""

from typing import NamedTuple

from kfp import dsl


@dsl.component(base_image="python:3.11")
def decide(score: float) -> NamedTuple("Verdict", [("go", bool), ("why", str)]):
    from collections import namedtuple

    return namedtuple("Verdict", ["go", "why"])(score >= 0.5, f"score {score}")


@dsl.component(base_image="python:3.11")
def act(why: str) -> str:
    print(f"acting: {why}")
    return why


@dsl.pipeline(name="decide")
def decide_pipeline(score: float = 0.7) -> None:
    verdict = decide(score=score)
    with dsl.If(verdict.outputs["go"] == True):  # noqa: E712
        act(why=verdict.outputs["why"])
