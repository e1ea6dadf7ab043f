"""Pure transforms that make a compiled pipeline run in the current interpreter: drop the
per-task `pip install` when what it installs is already here (refuse when it is not), refuse
container components, inject the stack's environment, override retries for a run, and resolve
the pipeline job id placeholder to the engine's run id."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from appliance.errors import MissingPrerequisite
from appliance.pipelines.requirements import pip_requirements

EXECUTOR_MODULE = "kfp.dsl.executor_main"

@dataclass(frozen=True)
class Localized:
    spec: pipeline_spec_pb2.PipelineSpec
    warnings: tuple[str, ...]


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def requirement_problem(text: str, version_of: Callable[[str], str | None] = installed_version
                        ) -> tuple[str | None, str | None]:
    """(problem, warning) for one pip requirement against this interpreter's packages."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return f"{text!r} is not a plain requirement (URLs and paths are not installed)", None
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None, None
    found = version_of(requirement.name)
    if found is None:
        return f"{requirement.name} is not installed", None
    if requirement.specifier.contains(found, prereleases=True):
        return None, None
    if requirement.name.lower() == "kfp" and _major(found) == _major_of_spec(requirement):
        # The executor protocol is stable within KFP v2: run with the installed SDK, say so.
        return None, f"tasks asked for {text}; running them with the installed kfp {found}"
    return f"{requirement.name} {found} is installed but {text!r} is required", None


def _major(version: str) -> int | None:
    try:
        return Version(version).major
    except InvalidVersion:
        return None


def _major_of_spec(requirement: Requirement) -> int | None:
    for item in requirement.specifier:
        found = _major(item.version.rstrip(".*"))
        if found is not None:
            return found
    return None


def localize(
    spec: pipeline_spec_pb2.PipelineSpec,
    env: Mapping[str, str] | None = None,
    retries: int | None = None,
    version_of: Callable[[str], str | None] = installed_version,
) -> Localized:
    """A copy of the spec ready for kfp.local in this interpreter; refuses what cannot run."""
    problems: list[str] = []
    fixes: dict[str, None] = {}  # ordered set: each fix once
    warnings: list[str] = []
    deployment = json_format.MessageToDict(spec.deployment_spec)
    users = _executor_users(spec)
    for label, executor in sorted(deployment.get("executors", {}).items()):
        container = executor.get("container")
        if container is None:
            continue  # importers run in-process
        tasks = ", ".join(users.get(label, [label]))
        command = list(container.get("command", []))
        image = container.get("image", "?")
        everything = " ".join(command + list(container.get("args", [])))
        if command[:3] == ["python3", "-m", EXECUTOR_MODULE]:
            # Built with `kfp component build`: the function's code is in the image only.
            problems.append(f"task {tasks}: a containerized Python component (image {image}) "
                            "keeps its code in the image")
            fixes["run it on a cluster target, or make it a lightweight component "
                  "(@dsl.component without target_image)"] = None
            continue
        if EXECUTOR_MODULE not in everything:
            problems.append(f"task {tasks}: a container component (image {image}); the local "
                            "target runs only lightweight Python components")
            fixes["run it on a cluster target"] = None
            continue
        if command[:2] == ["sh", "-c"] and len(command) > 2 and "pip install" in command[2]:
            for requirement in pip_requirements(command[2]):
                problem, warning = requirement_problem(requirement, version_of)
                if problem:
                    problems.append(f"task {tasks}: {problem}")
                    fixes["install the packages into the appliance's Python (pip install ...)"] = None
                if warning and warning not in warnings:
                    warnings.append(warning)
            # Installing into the harness's own environment is never done: it is either
            # satisfied already (dropped) or refused above.
            container["command"] = command[3:]
        if env:
            kept = [item for item in container.get("env", []) if item.get("name") not in env]
            container["env"] = kept + [{"name": k, "value": v} for k, v in sorted(env.items())]
    unresolvable = _unresolvable_placeholders(spec, users)
    if unresolvable:
        problems += unresolvable
        fixes["run it on a cluster target, or pass the value as a pipeline parameter"] = None
    if problems:
        raise MissingPrerequisite(
            f"pipeline {spec.pipeline_info.name!r} cannot run on the local target",
            "; ".join(problems), "; ".join(fixes))
    result = copy.deepcopy(spec)
    result.deployment_spec.Clear()
    result.deployment_spec.update(deployment)
    if retries is not None:
        for task in _executor_tasks(result):
            task.retry_policy.max_retry_count = retries
    _name_condition_outputs(result)
    return Localized(result, tuple(warnings))


# What kfp.local's placeholder resolution knows besides `{{$.inputs...}}` and `{{$.outputs...}}`
# (kfp/local/placeholder_utils.py). Any other `{{$.name}}` fails inside it at run time (the job
# resource name as a bare IndexError); the workspace path needs a workspace, which the local
# target does not configure; json_escape is not supported.
_PLACEHOLDER = re.compile(r"\{\{\$(?:\.[^{}]*)?\}\}")
_RESOLVED = frozenset({
    "{{$}}", "{{$.outputs.output_file}}", "{{$.outputMetadataUri}}", "{{$.pipeline_job_name}}",
    "{{$.pipeline_job_uuid}}", "{{$.pipeline_task_name}}", "{{$.pipeline_task_uuid}}",
    "{{$.pipeline_root}}",
})


def _unresolvable(text: str) -> list[str]:
    found = []
    for placeholder in _PLACEHOLDER.findall(text):
        io = placeholder.startswith(("{{$.inputs.", "{{$.outputs."))
        if placeholder in _RESOLVED or (io and "json_escape" not in placeholder):
            continue
        found.append(placeholder)
    return found


def _placeholder_name(placeholder: str) -> str:
    from kfp import dsl

    names = [name for name in dir(dsl)
             if name.endswith("_PLACEHOLDER") and getattr(dsl, name) == placeholder]
    return f"dsl.{names[0]} ({placeholder})" if names else placeholder


def _unresolvable_placeholders(spec: pipeline_spec_pb2.PipelineSpec,
                               users: Mapping[str, list[str]]) -> list[str]:
    """A problem per task that passes a placeholder kfp.local cannot resolve: in its arguments
    (constants and f-strings) or in its executor (command, args, importer URI and metadata)."""
    found: dict[str, dict[str, None]] = {}
    for dag in _dags(spec):
        for name, task in dag.tasks.items():
            for placeholder in _unresolvable(json_format.MessageToJson(task.inputs)):
                found.setdefault(name, {})[placeholder] = None
    executors = json_format.MessageToDict(spec.deployment_spec).get("executors", {})
    for label, executor in executors.items():
        for placeholder in _unresolvable(json.dumps(executor)):
            for name in users.get(label, [label]):
                found.setdefault(name, {})[placeholder] = None
    return [f"task {name}: {', '.join(map(_placeholder_name, sorted(placeholders)))} cannot be "
            "resolved by kfp.local" for name, placeholders in sorted(found.items())]


def with_job_id(spec: pipeline_spec_pb2.PipelineSpec,
                job_id: str) -> pipeline_spec_pb2.PipelineSpec:
    """A copy of the spec where `dsl.PIPELINE_JOB_ID_PLACEHOLDER` is `job_id`. kfp.local would
    resolve it to a random 8-digit number of its own, which names nothing the user sees; on a
    cluster it is the run's id, so locally it becomes the run id the engine reports."""
    from kfp import dsl

    text = json_format.MessageToJson(spec).replace(
        dsl.PIPELINE_JOB_ID_PLACEHOLDER, json.dumps(job_id)[1:-1])
    return json_format.Parse(text, pipeline_spec_pb2.PipelineSpec())


_CONDITION_REF = re.compile(r"inputs\.parameter_values\['(pipelinechannel--[^']+)'\]")


def _name_condition_outputs(spec: pipeline_spec_pb2.PipelineSpec) -> None:
    """kfp.local resolves a condition's channel by parsing its name: `<task>-Output` or
    `<task>--<key>`. A condition on a named output (`gate.outputs["promote"]`) is compiled as
    `pipelinechannel--gate-promote`, which kfp.local cannot resolve: it logs a warning and takes
    the branch as False. Renaming the reference to `<task>--<key>` makes it evaluate as on a
    cluster; only the condition text changes (kfp.local reads the value from the producer)."""
    for dag in _dags(spec):
        for task in dag.tasks.values():
            condition = task.trigger_policy.condition
            if not condition:
                continue
            for ref in _CONDITION_REF.findall(condition):
                source = task.inputs.parameters.get(ref)
                if source is None or not source.HasField("task_output_parameter"):
                    continue
                output = source.task_output_parameter
                if output.output_parameter_key == "Output":
                    continue
                named = f"pipelinechannel--{output.producer_task}--{output.output_parameter_key}"
                condition = condition.replace(f"['{ref}']", f"['{named}']")
            task.trigger_policy.condition = condition


def _dags(spec: pipeline_spec_pb2.PipelineSpec) -> Iterator[pipeline_spec_pb2.DagSpec]:
    yield spec.root.dag
    for component in spec.components.values():
        if component.WhichOneof("implementation") == "dag":
            yield component.dag


def _executor_tasks(spec: pipeline_spec_pb2.PipelineSpec) -> Iterator[pipeline_spec_pb2.PipelineTaskSpec]:
    for dag in _dags(spec):
        for task in dag.tasks.values():
            component = spec.components.get(task.component_ref.name)
            if component is not None and component.WhichOneof("implementation") == "executor_label":
                yield task


def _executor_users(spec: pipeline_spec_pb2.PipelineSpec) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for dag in _dags(spec):
        for name, task in dag.tasks.items():
            component = spec.components.get(task.component_ref.name)
            if component is not None and component.executor_label:
                users.setdefault(component.executor_label, []).append(name)
    return users


def task_names(spec: pipeline_spec_pb2.PipelineSpec) -> list[str]:
    """Names of every task that runs an executor (what a run reports per task)."""
    names: list[str] = []
    for dag in _dags(spec):
        for name, task in dag.tasks.items():
            component = spec.components.get(task.component_ref.name)
            if component is not None and component.WhichOneof("implementation") == "executor_label":
                names.append(name)
    return names
