"""Argo's archive of step logs: where the workflow controller puts each pod's main-container log in
the object store (its artifact repository's keyFormat), and finding a log there once the pod is gone.

Argo's wait container saves every main container's log as the artifact `<container>-logs`, file
`<container>.log`, under the pod's archive key when the repository says `archiveLogs: true`
(argoproj/argo-workflows workflow/executor/executor.go, SaveLogs and saveContainerLogs, which join
the key and the file name in saveArtifactFromFile; read on its main branch). The key is the
repository's keyFormat with the workflow's and the pod's variables filled in; the object is the
whole log, stdout and stderr combined, as plain text.

KFP 2.17 names neither the workflow nor the pods of a run in its API: its task details carry Argo
node IDs (`child_tasks[].pod_name`, "also known as node_id" in the API's own doc; KFP's
api_converter fills them from the workflow's node children). An Argo node ID is `<workflow>-<hash>`
(the FNV-32a hash of the node's name), and with Argo's default pod names (POD_NAMES=v2) the node's
pod is `<workflow>-<template>-<hash>`: the same hash. A log is therefore found by its exact pod
name when the pod record still exists, and otherwise by listing the keys under the workflow's
prefix and matching the pod part of each key to a node ID's hash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from appliance import safe_yaml
from appliance.errors import BadInput
from appliance.targets.cluster.client import ApiError, KubeClient, ObjRef

if TYPE_CHECKING:
    from appliance.objectstore import ObjectStore

ARGO_CONFIGMAP = "workflow-controller-configmap"
REPOSITORY_KEY = "artifactRepository"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
LOG_FILE = "main.log"  # `<container>.log` for the container named main
# What Argo uses when a repository sets no keyFormat (the bundle's own comment on keyFormat).
ARGO_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
# Listing the archive is bounded: without the workflow's name the prefix is the whole namespace's
# archive, which grows with every run until MinIO's volume goes with the stack.
LISTED_KEYS = 5000

_TAG = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NODE_ID = re.compile(r"^(?P<workflow>.+)-(?P<hash>\d+)$")
_CREATED = "workflow.creationTimestamp."


@dataclass(frozen=True)
class Repository:
    """Where Argo archives: the S3 bucket and the keyFormat of the keys in it."""

    bucket: str
    key_format: str


# The rendered bundle's repository (ConfigMap kubeflow/workflow-controller-configmap, data
# artifactRepository, s3): used when the cluster's ConfigMap cannot be read.
PINNED = Repository(
    bucket="mlpipeline",
    key_format="private-artifacts/{{workflow.namespace}}/{{workflow.name}}/"
               "{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}/"
               "{{workflow.creationTimestamp.d}}/{{pod.name}}")


@dataclass(frozen=True)
class ArchivedLog:
    uri: str  # s3://<bucket>/<key>
    text: str  # its last lines, as a tail of the pod's log would give them


class ArchiveUnreadable(Exception):
    """The object store did not answer, or refused (a transport error, access denied)."""


class ObjectReader(Protocol):
    """What reading the archive needs of an object store."""

    def read(self, bucket: str, key: str) -> bytes | None:
        """The object's content; None when there is no such object (or bucket)."""
        ...

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        """The keys under `prefix`, in S3's order (sorted)."""
        ...


class StoreReader:
    """ObjectReader over a stack's object store (the forward to MinIO, with the root credentials
    KFP's own Secret also holds: the archive is written with them)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @cached_property
    def _client(self) -> Any:
        return self.store.client()

    def read(self, bucket: str, key: str) -> bytes | None:
        from minio.error import S3Error

        try:
            response = self._client.get_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                return None
            raise ArchiveUnreadable(f"{exc.code}: {exc.message}") from None
        except Exception as exc:  # the forward is down, the connection reset: say which
            raise ArchiveUnreadable(_first_line(exc)) from None
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        from minio.error import S3Error

        try:
            for found in self._client.list_objects(bucket, prefix=prefix, recursive=True):
                yield str(found.object_name)
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                return
            raise ArchiveUnreadable(f"{exc.code}: {exc.message}") from None
        except Exception as exc:
            raise ArchiveUnreadable(_first_line(exc)) from None


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def repository(kube: KubeClient, namespace: str) -> Repository:
    """The workflow controller's S3 repository from its ConfigMap (so a changed keyFormat is
    followed), else the pinned one (no ConfigMap, not readable, or not an S3 repository)."""
    try:
        config = kube.get(ObjRef("v1", "ConfigMap", ARGO_CONFIGMAP, namespace))
    except ApiError:
        return PINNED
    text = ((config or {}).get("data") or {}).get(REPOSITORY_KEY)
    try:
        # Bounded: on a kube target the ConfigMap is whatever the cluster holds.
        parsed = safe_yaml.load(text, f"ConfigMap {namespace}/{ARGO_CONFIGMAP}") \
            if isinstance(text, str) else None
    except (yaml.YAMLError, BadInput):
        return PINNED
    s3 = parsed.get("s3") if isinstance(parsed, dict) else None
    if not isinstance(s3, dict) or not s3.get("bucket"):
        return PINNED
    return Repository(str(s3["bucket"]), str(s3.get("keyFormat") or ARGO_KEY_FORMAT))


def names_match(names: Sequence[str], pod: str) -> bool:
    """Whether `pod` is the pod of one of `names`: a pod name, or an Argo node ID whose pod has
    the same workflow prefix and hash (POD_NAMES=v2), or is named as the node (v1)."""
    for name in names:
        if pod == name:
            return True
        node = _NODE_ID.match(name)
        if node and pod.startswith(f"{node['workflow']}-") and pod.endswith(f"-{node['hash']}"):
            return True
    return False


def workflow_of(run: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The run's Argo workflow: the label on any of its pods, else the task detail whose display
    name prefixes a node ID of the run (Argo's root node is named as its workflow)."""
    for pod in pods:
        label = ((pod.get("metadata") or {}).get("labels") or {}).get(WORKFLOW_LABEL)
        if label:
            return str(label)
    details = (run.get("run_details") or {}).get("task_details") or []
    nodes = {name for detail in details for name in node_names(detail)}
    prefixes = {m["workflow"] for m in map(_NODE_ID.match, nodes) if m}
    found = sorted({str(d.get("display_name")) for d in details} & prefixes)
    return found[0] if found else None


def node_names(detail: Mapping[str, Any], details: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """The names KFP gives a task detail's pods: its `pod_name` and its children's (node IDs).
    A child that has a task detail of its own (KFP names a detail's node in its `pod_name`, when
    it does) is followed: an Argo retry node between a task and its pods is then seen through."""
    by_node = {str(d.get("pod_name")): d for d in details if d.get("pod_name")}
    names: list[str] = []
    todo = [detail]
    while todo:
        current = todo.pop(0)
        own = [str(current.get("pod_name") or "")]
        own += [str((child or {}).get("pod_name") or "") for child in current.get("child_tasks") or []]
        for name in own:
            if name and name not in names:
                names.append(name)
                if name in by_node:
                    todo.append(by_node[name])
    return names


def created_of(run: Mapping[str, Any]) -> datetime | None:
    """When KFP created the run (its workflow is created in the same request), in UTC."""
    value = run.get("created_at")
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class LogArchive:
    """The archived logs of one run: the repository is read from the cluster on first use, and each
    listed prefix is listed once (at most `limit` keys; `truncated` names the prefixes that had
    more)."""

    def __init__(self, reader: ObjectReader, source: Callable[[], Repository], namespace: str, *,
                 workflow: str | None, created: datetime | None, tail: int,
                 limit: int = LISTED_KEYS) -> None:
        self.reader = reader
        self.source = source
        self.namespace = namespace
        self.workflow = workflow
        self.created = created
        self.tail = tail
        self.limit = limit
        self.truncated: list[str] = []
        self._listed: dict[str, list[str]] = {}

    @cached_property
    def repository(self) -> Repository:
        return self.source()

    def find(self, *, pod: str | None = None, nodes: Sequence[str] = ()) -> ArchivedLog | None:
        """The log of the pod named `pod`, or of the pod of one of `nodes` (KFP's names for it)."""
        repo = self.repository
        if "pod.name" not in _tags(repo.key_format):
            return None  # every pod of a workflow would write the same key: whose log is it?
        if pod:
            dates = _dates(repo.key_format, self.created) if self.created else {}
            key = _render(repo.key_format, {**self._known(), **dates, "pod.name": pod})
            if key is not None:
                found = self._read(f"{key}/{LOG_FILE}")
                if found is not None:
                    return found
        names = [pod] if pod else list(nodes)
        if not names:
            return None
        prefix, pattern = _pattern(repo.key_format, self._known())
        for key in self._list(prefix):
            matched = pattern.fullmatch(key)
            if matched and names_match(names, matched["pod"]):
                found = self._read(key)
                if found is not None:
                    return found
        return None

    def _known(self) -> dict[str, str]:
        known = {"workflow.namespace": self.namespace}
        if self.workflow:
            known["workflow.name"] = self.workflow
        return known

    def _read(self, key: str) -> ArchivedLog | None:
        data = self.reader.read(self.repository.bucket, key)
        if data is None:
            return None
        lines = data.decode("utf-8", errors="replace").splitlines()[-self.tail:]
        return ArchivedLog(f"s3://{self.repository.bucket}/{key}", "".join(f"{line}\n" for line in lines))

    def _list(self, prefix: str) -> list[str]:
        if prefix not in self._listed:
            keys: list[str] = []
            for key in self.reader.keys(self.repository.bucket, prefix):
                if len(keys) == self.limit:
                    self.truncated.append(f"s3://{self.repository.bucket}/{prefix}")
                    break
                keys.append(key)
            self._listed[prefix] = keys
        return self._listed[prefix]


def _tags(key_format: str) -> list[str]:
    return [m.group(1) for m in _TAG.finditer(key_format)]


def _dates(key_format: str, created: datetime) -> dict[str, str]:
    """Argo's `workflow.creationTimestamp.<c>`: the creation time formatted with strftime's %c."""
    return {tag: created.strftime(f"%{tag[len(_CREATED):]}") for tag in _tags(key_format)
            if tag.startswith(_CREATED) and len(tag) == len(_CREATED) + 1}


def _render(key_format: str, values: Mapping[str, str]) -> str | None:
    """The key with every variable filled in; None when one is not known."""
    missing = [tag for tag in _tags(key_format) if tag not in values]
    if missing:
        return None
    return _TAG.sub(lambda m: values[m.group(1)], key_format)


def _pattern(key_format: str, known: Mapping[str, str]) -> tuple[str, re.Pattern[str]]:
    """The literal prefix before the first unknown variable, and a pattern of the log's key with
    the pod's name as group `pod`. Dates are left open (a run created just before midnight, or in
    another time zone than the controller's, is still found), as is any variable not known."""
    prefix: list[str] = []
    regex: list[str] = []
    closed = True  # the prefix is still being built: no unknown variable yet
    position = 0
    pod_seen = False
    for tag in _TAG.finditer(key_format):
        literal = key_format[position:tag.start()]
        position = tag.end()
        regex.append(re.escape(literal))
        name = tag.group(1)
        value = known.get(name)
        if closed:
            prefix.append(literal)
        if value is not None:
            regex.append(re.escape(value))
            if closed:
                prefix.append(value)
            continue
        closed = False
        if name == "pod.name":
            regex.append("(?P=pod)" if pod_seen else "(?P<pod>[^/]+)")
            pod_seen = True
        else:
            regex.append("[^/]+")
    rest = f"{key_format[position:]}/{LOG_FILE}"
    regex.append(re.escape(rest))
    if closed:
        prefix.append(rest)
    return "".join(prefix), re.compile("".join(regex))
