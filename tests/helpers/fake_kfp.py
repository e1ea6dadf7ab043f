"""A fake of the KFP 2.17 backend: the v2beta1 REST API the SDK's kfp.Client speaks (healthz,
experiments, runs create/get/terminate) over a small in-process model of run execution, and, when
given a FakeCluster, the executor pods Argo would create, with their logs.

What it models (from KFP 2.17's apiserver and argocompiler, not observed on a live cluster):
- A run is PENDING, then RUNNING while its tasks run one after another, then SUCCEEDED or FAILED
  (the first failing task stops it: later tasks never start and are listed as Argo's Omitted nodes,
  RUNTIME_STATE_UNSPECIFIED in KFP's API); every `get` advances it one step.
- `run_details.task_details` lists Argo's nodes by display name: the root DAG, `root-driver`, per
  task `<task>-driver` and `<task>` (the executor), loop DAGs and their iterations, each with a
  state and start/end times, and no outputs (the API keeps those in MLMD).
- Executor pods carry the labels and annotations of the platform spec's `podMetadata`, Argo's
  `workflows.argoproj.io/node-name` (loop iterations as `<loop>(<index>:<item>)`), container `main`
  with the executor's image, pull policy, env and `secretAsEnv` Secret references (so the FakeCluster
  refuses a missing Secret or key, and an unloaded image when offline).
- Their log: KFP launcher (glog) lines around what the task prints, and, when the executor command
  carries the cluster compile's report wrapper and the task succeeds, the marked executor output.
- Names as Argo gives them (POD_NAMES=v2, argoproj/argo-workflows workflow/util pod names): the
  node ID `<workflow>-<fnv32a(node name)>`, its pod `<workflow>-system-container-impl-<same hash>`
  (KFP's executor template); the executor's task detail lists the node ID in `child_tasks[].pod_name`
  as KFP's api_converter does (the node's children), and sets no `pod_name` of its own.
- Argo's log archive, when given an object store (`archive`): at a pod's end its whole main log is
  written to `<keyFormat>/main.log` in the bucket of the cluster's ConfigMap
  kubeflow/workflow-controller-configmap (artifactRepository.s3), as Argo's wait container does;
  without that ConfigMap (or for a container that never started) nothing is archived.
- Argo deleting finished pods (`pods_deleted`: every task's, or the named tasks'): a pod is deleted
  as soon as it completed and its log was archived, so it is gone by the next poll.
What a task does is scripted (`TaskScript` per task name, or a function of name and loop indices):
nothing is executed, conditions are not evaluated (script `skip=True` for a branch not taken).
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import yaml
from fake_cluster import FakeCluster

from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.pipeline_ir import OUTPUT_MARKER

EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
NODE_NAME = "workflows.argoproj.io/node-name"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
ARGO_CONFIGMAP = "workflow-controller-configmap"
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class ObjectSink(Protocol):
    """Where Argo's wait container writes archived logs (an in-memory store, or S3)."""

    def put(self, bucket: str, key: str, data: bytes) -> None: ...


def fnv32a(text: str) -> int:
    """Go's hash/fnv New32a, as Argo hashes a node's name into its node ID and pod name."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


@dataclass(frozen=True)
class TaskScript:
    """What one task instance does: print `log`, then succeed with `outputs` (kfp's executor output
    parameterValues; `artifacts` as kfp writes them), fail, or not run (a branch not taken)."""

    log: str = ""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    fail: bool = False
    skip: bool = False


Script = Mapping[str, TaskScript] | Callable[[str, tuple[int, ...]], TaskScript]


@dataclass
class _Instance:
    name: str
    executor: str
    indices: tuple[int, ...]
    node_name: str
    loops: list[str]


@dataclass
class _Run:
    body: dict[str, Any]
    run_id: str
    workflow: str
    pipeline_spec: dict[str, Any]
    platform: dict[str, Any]
    parameters: dict[str, Any]
    events: list[Callable[[], None]]
    state: str = "PENDING"
    details: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    finished_at: str | None = None
    step: int = 0


def _stamp(seconds: int) -> str:
    return (EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKfp:
    """The backend's state and behaviour, shared by the in-process API and the HTTP server."""

    def __init__(self, script: Script | None = None, cluster: FakeCluster | None = None,
                 namespace: str = "kubeflow", *, archive: ObjectSink | None = None,
                 pods_deleted: bool | Collection[str] = False) -> None:
        self.script = script or {}
        self.cluster = cluster
        self.namespace = namespace
        self.archive = archive
        self.pods_deleted = pods_deleted
        self.archived: list[str] = []  # s3:// URI of every log archived, in order
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, _Run] = {}
        self.created: list[dict[str, Any]] = []  # every run-create request body, as sent
        self.terminated: list[str] = []
        self._lock = threading.Lock()
        self._clock = 0  # seconds since EPOCH of the fake's own timestamps (without a cluster)
        self._counter = 0

    # --- API ----------------------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        return {"commit_sha": "fake", "tag_name": "2.17.0", "multi_user": False}

    def list_experiments(self, filter_text: str | None) -> dict[str, Any]:
        wanted = None
        if filter_text:
            for predicate in json.loads(filter_text).get("predicates", []):
                if predicate.get("key") == "display_name":
                    wanted = predicate.get("stringValue") or predicate.get("string_value")
        found = [e for e in self.experiments.values() if wanted is None or e["display_name"] == wanted]
        return {"experiments": found, "total_size": len(found)} if found else {}

    def create_experiment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        experiment = {"experiment_id": str(uuid.uuid4()), "display_name": body["display_name"],
                      "namespace": body.get("namespace") or "", "storage_state": "AVAILABLE",
                      "created_at": self._now()}
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def create_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.created.append(json.loads(json.dumps(body)))
            source = dict(body.get("pipeline_spec") or {})
            spec = source.get("pipeline_spec", source)
            platform = source.get("platform_spec") or {}
            parameters = dict((body.get("runtime_config") or {}).get("parameters") or {})
            self._counter += 1
            run_id = f"run-{self._counter:04d}-{uuid.uuid4().hex[:8]}"
            workflow = f"{spec['pipelineInfo']['name']}-{self._counter:04d}"
            run = _Run(dict(body), run_id, workflow, spec, platform, parameters, [])
            run.events = self._plan(run)
            self.runs[run_id] = run
            return self._view(run)

    def get_run(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            run = self.runs[run_id]
            if run.step < len(run.events):
                self._clock += 1
                run.events[run.step]()
                run.step += 1
            return self._view(run)

    def terminate(self, run_id: str) -> None:
        with self._lock:
            run = self.runs[run_id]
            self.terminated.append(run_id)
            run.events = run.events[:run.step] + [lambda: self._finish(run, "CANCELED")]

    # --- execution model ------------------------------------------------------------------------------

    def _script(self, name: str, indices: tuple[int, ...]) -> TaskScript:
        if callable(self.script):
            return self.script(name, indices)
        return self.script.get(name, TaskScript(log=f"{name} ran"))

    def _plan(self, run: _Run) -> list[Callable[[], None]]:
        events: list[Callable[[], None]] = [partial(self._start, run)]
        for instance in self._instances(run):
            script = self._script(instance.name, instance.indices)
            if script.skip:
                events.append(partial(self._skip, run, instance))
                continue
            pod: dict[str, str] = {}
            events.append(partial(self._begin, run, instance, script, pod))
            events.append(partial(self._end, run, instance, script, pod))
        events.append(partial(self._finish, run, "SUCCEEDED"))
        return events

    def _instances(self, run: _Run) -> Iterator[_Instance]:
        spec = run.pipeline_spec
        components = spec.get("components", {})
        root_inputs = (spec.get("root", {}).get("inputDefinitions") or {}).get("parameters") or {}
        values = {name: d.get("defaultValue") for name, d in root_inputs.items() if "defaultValue" in d}
        values.update(run.parameters)

        def walk(dag: dict[str, Any], path: str, indices: tuple[int, ...], loops: list[str],
                 scope: dict[str, Any]) -> Iterator[_Instance]:
            for name in _topological(dag.get("tasks", {})):
                task = dag["tasks"][name]
                component = components[task["componentRef"]["name"]]
                if "dag" not in component:
                    yield _Instance(name, component["executorLabel"], indices, f"{path}.{name}", loops)
                    continue
                inputs = {key: _resolve(value, scope) for key, value in
                          (task.get("inputs", {}).get("parameters") or {}).items()}
                iterator = task.get("parameterIterator")
                if iterator is None:
                    yield from walk(component["dag"], f"{path}.{name}", indices, loops, inputs)
                    continue
                items = iterator.get("items", {})
                listed = json.loads(items["raw"]) if "raw" in items else inputs[items["inputParameter"]]
                item_input = iterator.get("itemInput")
                for index, item in enumerate(listed):
                    inner = {**inputs, item_input: item} if item_input else inputs
                    yield from walk(component["dag"], f"{path}.{name}.iteration({index}:{item})",
                                    (*indices, index), [*loops, name], inner)

        yield from walk(spec["root"]["dag"], f"{run.workflow}.root", (), [], values)

    def _now(self) -> str:
        """The time stamps use the cluster's virtual clock when there is one (pods and task details
        then agree, as on a real cluster), else one second per step."""
        return _stamp(int(self.cluster.now) if self.cluster is not None else self._clock)

    def _detail(self, run: _Run, name: str, state: str, **extra: Any) -> dict[str, Any]:
        self._counter += 1
        detail = {"run_id": run.run_id, "task_id": f"task-{self._counter:04d}", "display_name": name,
                  "create_time": self._now(), "start_time": self._now(),
                  "state": state, "child_tasks": [], **extra}
        if state not in ("RUNNING", "PENDING"):
            detail["end_time"] = self._now()
        run.details.append(detail)
        return detail

    def _start(self, run: _Run) -> None:
        run.state = "RUNNING"
        self._detail(run, run.workflow, "RUNNING")
        self._detail(run, "root-driver", "SUCCEEDED")

    def _skip(self, run: _Run, instance: _Instance) -> None:
        self._detail(run, f"{instance.name}-driver", "SUCCEEDED")
        self._detail(run, instance.name, "SKIPPED")

    def _begin(self, run: _Run, instance: _Instance, script: TaskScript, pod: dict[str, str]) -> None:
        for loop, index in zip(instance.loops, instance.indices, strict=True):
            self._detail(run, f"{loop}-driver", "SUCCEEDED")
            self._detail(run, f"iteration({index})", "RUNNING")
        self._detail(run, f"{instance.name}-driver", "SUCCEEDED")
        detail = self._detail(run, instance.name, "RUNNING")
        if self.cluster is not None:
            pod["name"] = self._create_pod(run, instance, detail)
            self._log(pod["name"], _launcher("starting") + script.log.splitlines())

    def _end(self, run: _Run, instance: _Instance, script: TaskScript, pod: dict[str, str]) -> None:
        detail = next(d for d in reversed(run.details) if d["display_name"] == instance.name
                      and d["state"] == "RUNNING")
        detail["state"] = "FAILED" if script.fail else "SUCCEEDED"
        detail["end_time"] = self._now()
        if script.fail:
            detail["error"] = {"code": 2, "message": "failed with exit code 1"}
        for iteration in run.details:
            if iteration["display_name"].startswith("iteration(") and iteration["state"] == "RUNNING":
                iteration["state"] = detail["state"]
                iteration["end_time"] = detail["end_time"]
        if pod:
            lines = _launcher("starting") + script.log.splitlines()
            executor = run.pipeline_spec["deploymentSpec"]["executors"][instance.executor]["container"]
            if not script.fail and OUTPUT_MARKER in " ".join(executor.get("command", [])):
                output: dict[str, Any] = {"parameterValues": dict(script.outputs)}
                if script.artifacts:
                    output["artifacts"] = dict(script.artifacts)
                lines.append(OUTPUT_MARKER + json.dumps(output, sort_keys=True, separators=(",", ":")))
            lines += _launcher("failed to execute component: exit status 1" if script.fail
                               else "publish success")
            self._log(pod["name"], lines)
            self._archive_log(run, pod["name"])
            if self.pods_deleted is True or (self.pods_deleted and instance.name in self.pods_deleted):
                assert self.cluster is not None
                self.cluster.delete(ObjRef("v1", "Pod", pod["name"], self.namespace))
        if script.fail:
            # Argo stops scheduling: nothing after the failing task starts (its nodes are
            # "Omitted", which KFP reports as RUNTIME_STATE_UNSPECIFIED); the run fails.
            started = {d["display_name"] for d in run.details}
            omitted = [i.name for i in self._instances(run) if i.name not in started]
            run.events = run.events[:run.step + 1] + [partial(self._omit, run, omitted), partial(
                self._finish, run, "FAILED", {"code": 2, "message": f"task {instance.name} failed"})]

    def _omit(self, run: _Run, names: list[str]) -> None:
        for name in names:
            self._detail(run, name, "RUNTIME_STATE_UNSPECIFIED")

    def _finish(self, run: _Run, state: str, error: dict[str, Any] | None = None) -> None:
        run.state = state
        run.error = error
        run.finished_at = self._now()
        run.details[0]["state"] = state
        run.details[0]["end_time"] = run.finished_at

    def _create_pod(self, run: _Run, instance: _Instance, detail: dict[str, Any]) -> str:
        assert self.cluster is not None
        executor = run.pipeline_spec["deploymentSpec"]["executors"][instance.executor]["container"]
        config = ((run.platform.get("platforms") or {}).get("kubernetes") or {}).get(
            "deploymentSpec", {}).get("executors", {}).get(instance.executor, {})
        metadata = config.get("podMetadata") or {}
        node_hash = fnv32a(instance.node_name)
        name = f"{run.workflow}-system-container-impl-{node_hash}"
        env = [dict(item) for item in executor.get("env", [])]
        for secret in config.get("secretAsEnv", []):
            for pair in secret.get("keyToEnv", []):
                env.append({"name": pair["envVar"], "valueFrom": {"secretKeyRef": {
                    "name": secret["secretName"], "key": pair["secretKey"]}}})
        # What KFP 2.17 sets on step pods with the catalog's defaultSecurityContextRunAsNonRoot/
        # RunAsUser (Pod Security restricted passes; the bundle's kubeflow namespace enforces it).
        container = {"name": "main", "image": executor["image"], "env": env, "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
        if config.get("imagePullPolicy"):
            container["imagePullPolicy"] = config["imagePullPolicy"]
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": self.namespace,
                "labels": {**(metadata.get("labels") or {}), WORKFLOW_LABEL: run.workflow},
                "annotations": {**(metadata.get("annotations") or {}), NODE_NAME: instance.node_name,
                                "fake/deployment": f"{self.namespace}/{name}"},
            },
            "spec": {"containers": [container], "restartPolicy": "Never", "securityContext": {
                "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}},
        }
        refused = self.cluster.create_pod(pod)
        if refused:
            raise AssertionError(f"fake KFP: the executor pod was refused: {refused}")
        detail["child_tasks"] = [{"pod_name": f"{run.workflow}-{node_hash}"}]
        return name

    def _archive_log(self, run: _Run, pod: str) -> None:
        """Argo's wait container: the pod's whole main log to the repository's key, when the
        controller has an S3 repository and the container ran."""
        assert self.cluster is not None
        if self.archive is None:
            return
        try:
            config = self.cluster.stored("v1", "ConfigMap", ARGO_CONFIGMAP, self.namespace)
            stored = self.cluster.stored("v1", "Pod", pod, self.namespace)
        except KeyError:
            return
        repository = yaml.safe_load((config.get("data") or {}).get("artifactRepository") or "{}") or {}
        s3 = repository.get("s3") or {}
        statuses = (stored.get("status") or {}).get("containerStatuses") or []
        if not repository.get("archiveLogs") or not s3.get("bucket") or any(
                (c.get("state") or {}).get("waiting") for c in statuses if c.get("name") == "main"):
            return
        values = {"workflow.namespace": self.namespace, "workflow.name": run.workflow, "pod.name": pod}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("workflow.creationTimestamp."):
                return EPOCH.strftime("%" + name.rsplit(".", 1)[1])  # the run's created_at
            if name not in values:
                raise AssertionError(f"fake Argo: keyFormat variable {name} is not modelled")
            return values[name]

        key = _VARIABLE.sub(fill, str(s3.get("keyFormat") or "{{workflow.name}}/{{pod.name}}")) + "/main.log"
        text = self.cluster.logs[(f"{self.namespace}/{pod}", "main")]
        self.archive.put(str(s3["bucket"]), key, text.encode())
        self.archived.append(f"s3://{s3['bucket']}/{key}")

    def _log(self, pod: str, lines: list[str]) -> None:
        assert self.cluster is not None
        self.cluster.logs[(f"{self.namespace}/{pod}", "main")] = "".join(f"{line}\n" for line in lines)

    def _view(self, run: _Run) -> dict[str, Any]:
        view = {
            "run_id": run.run_id, "experiment_id": run.body.get("experiment_id"),
            "display_name": run.body.get("display_name"), "storage_state": "AVAILABLE",
            "runtime_config": run.body.get("runtime_config") or {}, "state": run.state,
            "created_at": _stamp(0), "scheduled_at": _stamp(0),
            "run_details": {"task_details": json.loads(json.dumps(run.details))},
        }
        if run.finished_at:
            view["finished_at"] = run.finished_at
        if run.error:
            view["error"] = run.error
        return view


def _launcher(message: str) -> list[str]:
    return [f"I0101 00:00:00.000000      17 launcher_v2.go:155] {message}"]


def _resolve(value: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    if "componentInputParameter" in value:
        return scope.get(value["componentInputParameter"])
    if "runtimeValue" in value:
        return value["runtimeValue"].get("constant")
    return None


def _topological(tasks: Mapping[str, Any]) -> list[str]:
    done: list[str] = []
    remaining = dict(tasks)
    while remaining:
        ready = sorted(n for n, t in remaining.items()
                       if not set(t.get("dependentTasks", [])) & set(remaining))
        for name in ready or sorted(remaining):
            remaining.pop(name)
            done.append(name)
    return done


class FakeKfpApi:
    """The KfpApi seam over the fake backend, in-process (fast tier): the package is read as
    kfp.Client reads it (first YAML document the pipeline, the rest the platform spec)."""

    def __init__(self, backend: FakeKfp) -> None:
        self.backend = backend

    def submit(self, package: Any, arguments: Mapping[str, Any], *, run_name: str, experiment: str,
               caching: bool) -> str:
        documents = list(yaml.safe_load_all(Path(package).read_text(encoding="utf-8")))
        platform: dict[str, Any] = {}
        for extra in documents[1:]:
            platform.update(extra or {})
        found = self.backend.list_experiments(json.dumps(
            {"predicates": [{"key": "display_name", "stringValue": experiment}]}))
        chosen = (found.get("experiments") or [None])[0] or \
            self.backend.create_experiment({"display_name": experiment})
        body = {"experiment_id": chosen["experiment_id"], "display_name": run_name,
                "pipeline_spec": {"pipeline_spec": documents[0], "platform_spec": platform},
                "runtime_config": {"parameters": dict(arguments)}, "enable_caching": caching}
        return str(self.backend.create_run(body)["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.backend.get_run(run_id)

    def terminate(self, run_id: str) -> None:
        self.backend.terminate(run_id)


class FakeKfpServer:
    """The v2beta1 REST API on 127.0.0.1 (an ephemeral port) over a FakeKfp: enough for kfp.Client's
    healthz, get-or-create experiment, create_run_from_pipeline_package, get_run and terminate_run."""

    def __init__(self, backend: FakeKfp) -> None:
        self.backend = backend
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeKfpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlparse(self.path)
                fake.requests.append(("GET", url.path))
                query = parse_qs(url.query)
                if url.path == "/apis/v2beta1/healthz":
                    self._send(200, fake.backend.healthz())
                elif url.path == "/apis/v2beta1/experiments":
                    filters = query.get("filter") or []
                    self._send(200, fake.backend.list_experiments(filters[0] if filters else None))
                elif url.path.startswith("/apis/v2beta1/runs/"):
                    run_id = url.path.rsplit("/", 1)[1]
                    if run_id not in fake.backend.runs:
                        self._send(404, {"error": f"run {run_id} not found", "code": 5,
                                         "message": f"run {run_id} not found"})
                    else:
                        self._send(200, fake.backend.get_run(run_id))
                else:
                    self._send(404, {"code": 5, "message": f"no route {url.path}"})

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append(("POST", url.path))
                if url.path == "/apis/v2beta1/experiments":
                    self._send(200, fake.backend.create_experiment(self._body()))
                elif url.path == "/apis/v2beta1/runs":
                    body = self._body()
                    spec = (body.get("pipeline_spec") or {})
                    if "pipelineInfo" not in spec.get("pipeline_spec", spec):
                        self._send(400, {"code": 3, "message": "Invalid input error: pipeline spec "
                                                               "has no pipelineInfo"})
                        return
                    self._send(200, fake.backend.create_run(body))
                elif url.path.endswith(":terminate"):
                    fake.backend.terminate(url.path.rsplit("/", 1)[1].removesuffix(":terminate"))
                    self._send(200, {})
                else:
                    self._send(404, {"code": 5, "message": f"no route {url.path}"})

        return Handler
