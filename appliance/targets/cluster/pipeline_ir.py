"""Pure transforms that make a compiled pipeline run on the cluster's KFP as it runs locally.

- Lightweight components on kfp's default base image (the conformance components' BASE_IMAGE is
  the same `python:3.11`) run on the stubs image, which has kfp, the stubs and the gates: their
  per-task `pip install kfp` is dropped, exactly what `@dsl.component(install_kfp_package=False)`
  compiles to. A preamble that also installs other packages, and components on other images, are
  left as written (a warning says such a pod needs a package index).
- Every executor gets the object store as on local: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from
  the pipeline steps' Secret (the pipelines MinIO user, not KFP's root-credential
  `mlpipeline-minio-artifact`; workloads.py) through kfp-kubernetes' `secretAsEnv`, encoded as
  kfp-kubernetes 2.17.3 encodes it, the in-cluster endpoint and region as plain env, `imagePullPolicy:
  IfNotPresent` (images loaded into kind), and a pod label naming the submission plus an
  annotation naming its tasks, so the engine finds each task's pod without guessing Argo's names.
- KFP 2.17's run API reports task states but not output parameters (those live in MLMD only), so
  each lightweight executor prints kfp's executor output as one marked last line of its log; the
  engine reads and strips it. Container components have no such line: their outputs are not
  reported.
- Caching is set on every task of every DAG (the SDK's submit-time override reaches only the root
  DAG's tasks), and `retries` overrides each task's retry policy, as on local.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from packaging.requirements import InvalidRequirement, Requirement

from appliance.objectstore import DEFAULT_BUCKET
from appliance.pipelines.requirements import pip_requirements
from appliance.targets.cluster.settings import FORWARDED, OBJECT_STORE
from appliance.targets.cluster.workloads import KFP_ACCESS_KEY, KFP_SECRET_KEY, PIPELINE_STEP_SECRET

EXECUTOR_MODULE = "kfp.dsl.executor_main"
# kfp 2.17's default base image (kfp.dsl.component_factory._DEFAULT_BASE_IMAGE) and the conformance
# components' BASE_IMAGE: both `python:3.11`; tests check both against this set.
STUBS_BASE_IMAGES = frozenset({"python:3.11"})
# What kfp's own preamble installs (`kfp==<version> --no-deps` and typing-extensions for Python<3.9).
KFP_OWN_PACKAGES = frozenset({"kfp", "typing-extensions"})

SECRET_KEYS = {KFP_ACCESS_KEY: "AWS_ACCESS_KEY_ID", KFP_SECRET_KEY: "AWS_SECRET_ACCESS_KEY"}
PULL_POLICY = "IfNotPresent"
SUBMISSION_LABEL = "appliance.dev/submission"
TASKS_ANNOTATION = "appliance.dev/tasks"
OUTPUT_MARKER = "appliance-executor-output: "

# KFP's default pipeline root: a run's artifacts go under <root>/<pipeline name>/<run id>.
DEFAULT_PIPELINE_ROOT = f"minio://{DEFAULT_BUCKET}/v2/artifacts"

_minio = FORWARDED[OBJECT_STORE]
IN_CLUSTER_ENDPOINT = f"http://{_minio.name}.{_minio.namespace}.svc.cluster.local:{_minio.port}"

# Runs the executor ("$0" "$@" is the command that follows), then prints kfp's executor output
# (the file named by --executor_input's outputs.outputFile) as one line. No single quotes inside
# the Python (it is single-quoted for sh) and no "{{" (Argo would take it for a placeholder).
_REPORT_PY = (
    "import json, sys\n"
    "args = sys.argv[1:]\n"
    'at = len(args) - 1 - args[::-1].index("--executor_input")\n'
    'path = json.loads(args[at + 1])["outputs"]["outputFile"]\n'
    "try:\n"
    "    output = json.load(open(path))\n"
    "except (OSError, ValueError):\n"
    "    output = {}\n"
    f'print("{OUTPUT_MARKER}" + json.dumps(output, sort_keys=True, separators=(",", ":")))\n'
)
REPORT_SCRIPT = f'"$0" "$@" || exit $?\nexec python3 -c \'{_REPORT_PY}\' "$@"\n'


@dataclass(frozen=True)
class ClusterProfile:
    """Where the cluster's pieces are: the stubs image, the in-cluster S3 endpoint, its Secret."""

    stubs_image: str
    endpoint: str = IN_CLUSTER_ENDPOINT
    region: str = "us-east-1"
    secret: str = PIPELINE_STEP_SECRET

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ENDPOINT_URL_S3": self.endpoint,
                "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}


@dataclass(frozen=True)
class ClusterPipeline:
    """A spec ready to submit: the pipeline, its Kubernetes platform spec, and what to tell the user."""

    spec: pipeline_spec_pb2.PipelineSpec
    platform: pipeline_spec_pb2.PlatformSpec
    warnings: tuple[str, ...]
    reporting: frozenset[str]  # tasks whose executor prints its outputs (lightweight components)

    def document(self) -> str:
        """The IR YAML as kfp's compiler writes it: the pipeline, then the platform spec."""
        docs = [json_format.MessageToDict(self.spec), json_format.MessageToDict(self.platform)]
        return yaml.safe_dump_all(docs, sort_keys=True)


def for_cluster(spec: pipeline_spec_pb2.PipelineSpec, profile: ClusterProfile, submission: str, *,
                caching: bool = False, retries: int | None = None) -> ClusterPipeline:
    deployment = json_format.MessageToDict(spec.deployment_spec)
    users = executor_users(spec)
    executors: dict[str, Any] = {}
    warnings: list[str] = []
    reporting: set[str] = set()
    for label, executor in sorted(deployment.get("executors", {}).items()):
        container = executor.get("container")
        if container is None:
            continue  # importers: the driver resolves them, nothing runs
        tasks = users.get(label, [])
        named = ", ".join(tasks) or label
        command = list(container.get("command", []))
        lightweight = EXECUTOR_MODULE in " ".join(command + list(container.get("args", [])))
        if lightweight and container.get("image") in STUBS_BASE_IMAGES:
            container["image"] = profile.stubs_image
            if _installs_only_kfp(command):
                command = command[3:]
            elif _installs(command):
                warnings.append(f"task {named} installs {', '.join(_installs(command))} when it starts: "
                                "its pod needs a package index reachable from the cluster")
        elif lightweight and _installs(command):
            warnings.append(f"task {named} runs on {container.get('image')} and installs "
                            f"{', '.join(_installs(command))} when it starts: its pod needs a package "
                            "index reachable from the cluster")
        if lightweight:
            command = ["sh", "-c", REPORT_SCRIPT, *command]
            reporting.update(tasks)
        container["command"] = command
        env = profile.env()
        kept = [item for item in container.get("env", []) if item.get("name") not in env]
        container["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
        executors[label] = _kubernetes_config(profile, submission, tasks)
    result = copy.deepcopy(spec)
    result.deployment_spec.Clear()
    result.deployment_spec.update(deployment)
    for task in _all_tasks(result):
        task.caching_options.enable_cache = caching
    if retries is not None:
        for task in _executor_tasks(result):
            task.retry_policy.max_retry_count = retries
    platform = json_format.ParseDict(
        {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}},
        pipeline_spec_pb2.PlatformSpec())
    return ClusterPipeline(result, platform, tuple(warnings), frozenset(reporting))


def _kubernetes_config(profile: ClusterProfile, submission: str, tasks: list[str]) -> dict[str, Any]:
    """kfp-kubernetes' KubernetesExecutorConfig as JSON: what `use_secret_as_env`,
    `set_image_pull_policy`, `add_pod_label` and `add_pod_annotation` write."""
    return {
        "secretAsEnv": [{
            "secretName": profile.secret,
            "secretNameParameter": {"runtimeValue": {"constant": profile.secret}},
            "keyToEnv": [{"secretKey": key, "envVar": var} for key, var in SECRET_KEYS.items()],
            "optional": False,
        }],
        "imagePullPolicy": PULL_POLICY,
        "podMetadata": {"labels": {SUBMISSION_LABEL: submission},
                        "annotations": {TASKS_ANNOTATION: ",".join(tasks)}},
    }


def _installs(command: list[str]) -> list[str]:
    """What a lightweight component's `sh -c` preamble pip-installs (nothing without one)."""
    if command[:2] == ["sh", "-c"] and len(command) > 2 and "pip install" in command[2]:
        return pip_requirements(command[2])
    return []


def _installs_only_kfp(command: list[str]) -> bool:
    installs = _installs(command)
    return bool(installs) and all(_name(item) in KFP_OWN_PACKAGES for item in installs)


def _name(requirement: str) -> str:
    try:
        return Requirement(requirement).name.lower()
    except InvalidRequirement:
        return requirement


def _dags(spec: pipeline_spec_pb2.PipelineSpec) -> Iterator[pipeline_spec_pb2.DagSpec]:
    yield spec.root.dag
    for component in spec.components.values():
        if component.WhichOneof("implementation") == "dag":
            yield component.dag


def _all_tasks(spec: pipeline_spec_pb2.PipelineSpec) -> Iterator[pipeline_spec_pb2.PipelineTaskSpec]:
    for dag in _dags(spec):
        yield from dag.tasks.values()


def _executor_tasks(spec: pipeline_spec_pb2.PipelineSpec) -> Iterator[pipeline_spec_pb2.PipelineTaskSpec]:
    for task in _all_tasks(spec):
        component = spec.components.get(task.component_ref.name)
        if component is not None and component.WhichOneof("implementation") == "executor_label":
            yield task


def executor_users(spec: pipeline_spec_pb2.PipelineSpec) -> dict[str, list[str]]:
    """Executor label -> the names of the tasks that run it."""
    users: dict[str, list[str]] = {}
    for dag in _dags(spec):
        for name, task in dag.tasks.items():
            component = spec.components.get(task.component_ref.name)
            if component is not None and component.WhichOneof("implementation") == "executor_label":
                users.setdefault(component.executor_label, []).append(name)
    return users


@dataclass(frozen=True)
class TaskPlace:
    """Where a task sits: the loops around it (outermost first), for its key in a run."""

    name: str
    loops: tuple[str, ...]


def task_places(spec: pipeline_spec_pb2.PipelineSpec) -> dict[str, TaskPlace]:
    """Every executor task by name, with the ParallelFor tasks it is nested in. Keys of loop
    iterations follow kfp.local's run layout: `<loop>-iteration-<i>/<task>`."""
    places: dict[str, TaskPlace] = {}

    def walk(dag: pipeline_spec_pb2.DagSpec, loops: tuple[str, ...]) -> None:
        for name, task in dag.tasks.items():
            component = spec.components.get(task.component_ref.name)
            if component is None:
                continue
            if component.WhichOneof("implementation") == "dag":
                looped = task.WhichOneof("iterator") is not None
                walk(component.dag, (*loops, name) if looped else loops)
            else:
                places[name] = TaskPlace(name, loops)

    walk(spec.root.dag, ())
    return places


def pipeline_outputs(spec: pipeline_spec_pb2.PipelineSpec) -> Mapping[str, tuple[str, str]]:
    """The pipeline's outputs that a root-level task produces: name -> (task, output key)."""
    found: dict[str, tuple[str, str]] = {}
    outputs = spec.root.dag.outputs
    for name, parameter in outputs.parameters.items():
        if parameter.WhichOneof("kind") == "value_from_parameter":
            source = parameter.value_from_parameter
            found[name] = (source.producer_subtask, source.output_parameter_key)
    for name, artifact in outputs.artifacts.items():
        if len(artifact.artifact_selectors) == 1:
            selector = artifact.artifact_selectors[0]
            found[name] = (selector.producer_subtask, selector.output_artifact_key)
    return found

