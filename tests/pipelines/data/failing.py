"""A pipeline whose middle task raises: the last task never runs."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def ok(x: int) -> int:
    print(f"ok got {x}")
    return x + 1


@dsl.component(base_image="python:3.11")
def boom(x: int) -> int:
    print(f"about to fail with {x}")
    raise ValueError(f"boom {x}")


@dsl.pipeline(name="failing")
def failing(x: int = 1) -> None:
    first = ok(x=x)
    second = boom(x=first.output)
    ok(x=second.output)
