"""Integers through everything kfp.local turns into floats: loops, f-strings, Collected, lists,
structs, a str input fed by a loop over ints, and the exit handler's status."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def echo(text: str) -> str:
    return text


@dsl.component(base_image="python:3.11")
def count_to(n: int) -> list[int]:
    return list(range(1, n + 1))


@dsl.component(base_image="python:3.11")
def square(n: int) -> int:
    return n * n


@dsl.component(base_image="python:3.11")
def total(squares: list[int], extra: dict, scale: float) -> str:
    return f"{squares} {sum(squares)} {extra} {scale}"


@dsl.component(base_image="python:3.11")
def check(fail: bool) -> None:
    if fail:
        raise ValueError("asked to fail")


@dsl.component(base_image="python:3.11")
def report(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state} {status.error_code!r}"


@dsl.pipeline(name="numbers")
def numbers(n: int = 3, sizes: list = [12, 3], extra: dict = {"k": 1},  # noqa: B006
            scale: float = 2.0, fail: bool = False) -> None:
    with dsl.ExitHandler(report()):
        counted = count_to(n=n)
        echo(text=f"n={n} scale={scale}")
        with dsl.ParallelFor(counted.output) as item:
            squared = square(n=item)
            echo(text=f"item {item}")
        summed = total(squares=dsl.Collected(squared.output), extra=extra, scale=scale)
        with dsl.ParallelFor(sizes) as size:
            echo(text=size)  # a str input fed by a loop over ints
        check(fail=fail).after(summed)
