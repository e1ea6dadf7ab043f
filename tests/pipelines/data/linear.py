"""A linear pipeline with one parameter of every passable type."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def add(a: int, b: int) -> int:
    print(f"adding {a} and {b}")
    return a + b


@dsl.component(base_image="python:3.11")
def describe(total: int, scale: float, label: str, flag: bool, items: list, extra: dict) -> str:
    text = f"{label}:{total * scale}:{flag}:{sum(items)}:{sorted(extra)}"
    print(text)
    return text


@dsl.pipeline(name="linear")
def linear(a: int, scale: float = 0.5, label: str = "x", flag: bool = False,
           items: list = [1, 2], extra: dict = {"k": 1}) -> str:  # noqa: B006
    first = add(a=a, b=2)
    second = add(a=first.output, b=3)
    return describe(total=second.output, scale=scale, label=label, flag=flag, items=items,
                    extra=extra).output
