from kfp import dsl


@dsl.component(base_image="python:3.11")
def one() -> int:
    return 1


@dsl.pipeline(name="first")
def first() -> None:
    one()


@dsl.pipeline(name="second")
def second() -> None:
    one()
