"""Importers of the stack's object store (s3:// and minio:// URIs), fetched before a run.

On a cluster the launcher downloads a task's input artifacts, so `artifact.path` of an imported
`s3://mlpipeline/key` is a local copy (/s3/mlpipeline/key). kfp.local passes the URI on
unchanged, and the task looks for /s3/mlpipeline/key, which does not exist. Here each such URI
that is known before the run (a constant, or a parameter of the pipeline's top level) is fetched
from the stack's object store with the stack's credentials into <engine root>/imports/<bucket>/
<key>, and the importer imports that copy. The folder is kept per stack, so a URI always maps to
the same path and `--cache` keys stay stable across runs."""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from google.protobuf import json_format, struct_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from appliance.errors import BadInput, MissingPrerequisite
from appliance.objectstore import ObjectStore

SCHEMES = ("s3://", "minio://")
_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")
_UPLOAD = 'upload it first (eval "$(appliance env)"; aws s3 cp FILE s3://{bucket}/{key})'


@dataclass(frozen=True)
class Import:
    """An importer task whose URI names an object (or a folder of objects) in an S3 store.
    `dag` is the component whose DAG holds the task ('' for the pipeline's root)."""

    task: str
    uri: str
    bucket: str
    key: str
    dag: str = ""


def store_imports(spec: pipeline_spec_pb2.PipelineSpec, arguments: Mapping[str, Any]
                  ) -> tuple[list[Import], list[str]]:
    """(importers to fetch, notes on those that cannot be fetched before the run)."""
    found: list[Import] = []
    notes: list[str] = []
    executors = _executors(spec)
    for dag_name, name, task in _tasks(spec):
        importer = _importer(spec, task, executors)
        if importer is None:
            continue
        uri = _uri(dag_name, task, importer, spec, arguments)
        if not uri.startswith(SCHEMES):
            continue
        if task.dependent_tasks:
            notes.append(f"task {name} imports {uri} after other tasks, so it is not fetched "
                         "before the run: a task reading its path will not find it")
            continue
        found.append(_parse(name, uri, dag_name))
    return found, notes


def with_local_copies(spec: pipeline_spec_pb2.PipelineSpec, imports: list[Import],
                      copies: Mapping[str, str]) -> pipeline_spec_pb2.PipelineSpec:
    """A copy of the spec whose importers import the local copy of each fetched URI."""
    result = copy.deepcopy(spec)
    executors = _executors(result)
    for item in imports:
        local = copies[item.uri]
        dag = result.components[item.dag].dag if item.dag else result.root.dag
        task = dag.tasks[item.task]
        importer = _importer(result, task, executors)
        assert importer is not None  # found by store_imports on the same spec
        if "constant" in importer.get("artifactUri", {}):
            importer["artifactUri"]["constant"] = local
        uri_input = task.inputs.parameters["uri"]
        uri_input.Clear()
        uri_input.runtime_value.constant.CopyFrom(struct_pb2.Value(string_value=local))
    result.deployment_spec.Clear()
    result.deployment_spec.update({"executors": executors})
    return result


def store_from_env(env: Mapping[str, str]) -> ObjectStore | None:
    """The stack's object store, from the environment the engine gives every task."""
    endpoint, key, secret = (env.get(name) for name in (
        "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    if not (endpoint and key and secret):
        return None
    return ObjectStore(endpoint, key, secret, region=env.get("AWS_DEFAULT_REGION") or "us-east-1")


def fetch(imports: list[Import], store: ObjectStore | None, folder: Path) -> dict[str, str]:
    """Download each import into folder/<bucket>/<key>; {uri: local path}. Refuses, before the
    run, an import that is not in the store."""
    if not imports:
        return {}
    if store is None:
        raise MissingPrerequisite(
            f"task {imports[0].task} imports {imports[0].uri}",
            "the pipelines engine has no object store to fetch it from",
            "run the pipeline on a stack (appliance run --name STACK)")
    from minio.error import S3Error

    client = store.client()
    copies: dict[str, str] = {}
    for item in imports:
        target = folder / item.bucket / item.key
        try:
            copies[item.uri] = str(_download(client, item, target))
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                buckets = ", ".join(sorted(b.name for b in client.list_buckets())) or "none"
                raise MissingPrerequisite(
                    f"task {item.task} imports {item.uri}",
                    f"the stack's object store has no bucket {item.bucket!r}",
                    f"import from a bucket of the stack ({buckets})") from exc
            raise MissingPrerequisite(
                f"task {item.task} imports {item.uri}",
                f"the stack's object store answered {exc.code}: {exc.message}",
                "check the stack with 'appliance status'") from exc
        except (OSError, ValueError) as exc:  # urllib3 errors are OSErrors/ValueErrors
            raise MissingPrerequisite(
                f"task {item.task} imports {item.uri}",
                f"cannot read it from the stack's object store at {store.endpoint}: "
                f"{type(exc).__name__}", "check the stack with 'appliance status'") from exc
    return copies


def _download(client: Any, item: Import, target: Path) -> Path:
    """The object itself, else every object under key/ as a folder (as a launcher does)."""
    from minio.error import S3Error

    if item.key and not item.key.endswith("/"):
        try:
            client.stat_object(item.bucket, item.key)
        except S3Error as exc:
            if exc.code not in _MISSING:
                raise
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            # fget_object writes a part file and renames it: a reader never sees half a file.
            client.fget_object(item.bucket, item.key, str(target))
            return target
    prefix = item.key.rstrip("/") + "/" if item.key else ""
    objects = [o for o in client.list_objects(item.bucket, prefix=prefix, recursive=True)
               if not o.is_dir]
    if not objects:
        raise MissingPrerequisite(
            f"task {item.task} imports {item.uri}",
            f"the stack's object store has no object {item.key!r} and nothing under "
            f"{prefix!r} in bucket {item.bucket!r}",
            _UPLOAD.format(bucket=item.bucket, key=item.key))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        for found in objects:
            relative = _safe_key(item, found.object_name[len(prefix):])
            client.fget_object(item.bucket, found.object_name, str(staging / relative))
        # The folder is replaced as a whole: objects deleted from the store disappear here too.
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def _parse(task: str, uri: str, dag: str) -> Import:
    scheme = next(s for s in SCHEMES if uri.startswith(s))
    bucket, _, key = uri[len(scheme):].partition("/")
    if not bucket:
        raise BadInput(f"task {task} imports {uri}, which names no bucket", "",
                       "import s3://BUCKET/KEY")
    return Import(task, uri, bucket, _safe_key(Import(task, uri, bucket, key), key), dag)


def _safe_key(item: Import, key: str) -> str:
    """Keys become paths under the imports folder: no '..', no absolute paths."""
    parts = PurePosixPath(key).parts
    if key.startswith("/") or ".." in parts:
        raise BadInput(f"task {item.task} imports {item.uri}, which cannot be copied locally",
                       f"its key {key!r} leaves its folder ('..' or a leading '/')",
                       "import a key without '..' segments")
    return key


def _executors(spec: pipeline_spec_pb2.PipelineSpec) -> dict[str, Any]:
    executors = json_format.MessageToDict(spec.deployment_spec).get("executors")
    return executors if isinstance(executors, dict) else {}


def _tasks(spec: pipeline_spec_pb2.PipelineSpec
           ) -> Iterator[tuple[str, str, pipeline_spec_pb2.PipelineTaskSpec]]:
    # Sorted: protobuf maps have no stable order, and notes and refusals should not vary.
    for name, task in sorted(spec.root.dag.tasks.items()):
        yield "", name, task
    for component_name, component in sorted(spec.components.items()):
        if component.WhichOneof("implementation") == "dag":
            for name, task in sorted(component.dag.tasks.items()):
                yield component_name, name, task


def _importer(spec: pipeline_spec_pb2.PipelineSpec, task: pipeline_spec_pb2.PipelineTaskSpec,
              executors: dict[str, Any]) -> dict[str, Any] | None:
    component = spec.components.get(task.component_ref.name)
    if component is None or not component.executor_label:
        return None
    importer = executors.get(component.executor_label, {}).get("importer")
    return importer if isinstance(importer, dict) else None


def _uri(dag: str, task: pipeline_spec_pb2.PipelineTaskSpec, importer: dict[str, Any],
         spec: pipeline_spec_pb2.PipelineSpec, arguments: Mapping[str, Any]) -> str:
    """The URI when known before the run: a constant, or a top-level pipeline parameter."""
    uri = importer.get("artifactUri", {})
    if "constant" in uri:
        return str(uri["constant"])
    bound = task.inputs.parameters.get("uri")
    if dag or bound is None or not bound.HasField("component_input_parameter"):
        return ""
    name = bound.component_input_parameter
    if name in arguments:
        return str(arguments[name])
    declared = spec.root.input_definitions.parameters.get(name)
    return declared.default_value.string_value if declared is not None else ""
