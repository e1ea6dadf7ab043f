"""Two components and no pipeline: one is picked by name."""

from kfp import dsl
from kfp.dsl import Dataset, Output


@dsl.component(base_image="python:3.11")
def count(text: str) -> int:
    return len(text)


@dsl.component(base_image="python:3.11")
def write(text: str, data: Output[Dataset]) -> None:
    with open(data.path, "w") as handle:
        handle.write(text)
    data.metadata["chars"] = len(text)
