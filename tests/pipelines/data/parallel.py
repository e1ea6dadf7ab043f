"""A ParallelFor whose iterations overlap in time and print distinct lines."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def shout(word: str) -> str:
    import time

    for n in range(3):
        print(f"{word} line {n}", flush=True)
        time.sleep(0.05)
    return word.upper()


@dsl.component(base_image="python:3.11")
def join(words: list) -> str:
    return ",".join(sorted(words))


@dsl.pipeline(name="parallel")
def parallel(words: list = ["alpha", "beta", "gamma"]) -> str:  # noqa: B006
    with dsl.ParallelFor(words) as word:
        shouted = shout(word=word)
    return join(words=dsl.Collected(shouted.output)).output
