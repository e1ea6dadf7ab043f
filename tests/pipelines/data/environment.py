"""A task that reports what the stack put in its environment (names only for the secret)."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def look() -> str:
    import os

    print("endpoint", os.environ["AWS_ENDPOINT_URL"])
    return f"{os.environ['AWS_ENDPOINT_URL']}|{'AWS_SECRET_ACCESS_KEY' in os.environ}"


@dsl.pipeline(name="environment")
def environment() -> str:
    return look().output
