from kfp import dsl

VALUE = 1 / 0


@dsl.pipeline(name="never")
def never() -> None:
    pass
