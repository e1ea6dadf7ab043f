"""Nested ParallelFor whose inner loop runs over a field of the outer loop's item, as in KFP's
own nested-loop sample: a cluster runs it; kfp.local fails inside its own orchestration."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def show(text: str) -> str:
    print(text)
    return text


@dsl.pipeline(name="nested-loops")
def nested_loops(groups: list = [{"name": "a", "parts": ["1", "2"]}]) -> None:  # noqa: B006
    show(text="before")
    with dsl.ParallelFor(groups) as group:
        with dsl.ParallelFor(group.parts) as part:
            show(text=part)


@dsl.component(base_image="python:3.11")
def parts_of(group: dict) -> list:
    return group["parts"]


@dsl.pipeline(name="nested-loops-workaround")
def workaround(groups: list = [{"name": "a", "parts": ["1", "2"]}]) -> None:  # noqa: B006
    """The documented way around it: the field passes through a component first."""
    show(text="before")
    with dsl.ParallelFor(groups) as group:
        with dsl.ParallelFor(parts_of(group=group).output) as part:
            show(text=part)

