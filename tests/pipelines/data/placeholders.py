"""Placeholders kfp.local resolves (the job name) and ones it cannot (the job's resource name,
its creation time), in an argument and in an f-string."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def echo(text: str) -> str:
    return text


@dsl.pipeline(name="placeholders")
def placeholders() -> None:
    echo(text=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
    echo(text=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER)
    echo(text=f"created {dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER} by "
              f"{dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER}")
