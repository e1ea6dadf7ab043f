"""Tasks that key by the pipeline job id: at the top level, in an f-string, inside a loop."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def echo(text: str) -> str:
    return text


@dsl.component(base_image="python:3.11")
def join(items: list) -> str:
    return ",".join(items)


@dsl.pipeline(name="job-id")
def job_id() -> str:
    top = echo(text=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
    keyed = echo(text=f"runs/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}/model.json")
    with dsl.ParallelFor(items=["a", "b"]):
        looped = echo(text=dsl.PIPELINE_JOB_ID_PLACEHOLDER).after(top, keyed)
    return join(items=dsl.Collected(looped.output)).output
