from kfp import dsl


@dsl.component(base_image="python:3.11")
def lonely() -> int:
    return 1
