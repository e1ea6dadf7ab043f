"""Only a component, as users write one before any pipeline: typed inputs and named outputs."""

from typing import NamedTuple

from kfp import dsl


@dsl.component(base_image="python:3.11")
def add_numbers(a: int, b: int = 2, note: str = "sum") -> NamedTuple(
        "Sums", [("total", int), ("text", str)]):
    print(f"adding {a} and {b}")
    return a + b, f"{note}={a + b}"
