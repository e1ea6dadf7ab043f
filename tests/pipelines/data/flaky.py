"""A task that fails until its third attempt (counted in a marker file), then its consumer."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def flaky(marker: str) -> str:
    import os

    count = int(open(marker).read()) + 1 if os.path.exists(marker) else 1
    with open(marker, "w") as handle:
        handle.write(str(count))
    print(f"attempt {count}")
    if count < 3:
        raise RuntimeError(f"flaky attempt {count}")
    return f"done after {count}"


@dsl.component(base_image="python:3.11")
def echo(text: str) -> str:
    print(text)
    return text


@dsl.pipeline(name="flaky")
def flaky_pipeline(marker: str) -> str:
    return echo(text=flaky(marker=marker).output).output
