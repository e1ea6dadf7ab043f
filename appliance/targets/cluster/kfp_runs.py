"""A finished KFP run as the PipelineRun the local engine returns: one TaskRun per executed task
(loop iterations keyed `<loop>-iteration-<i>/<task>` as kfp.local lays them out), with its state,
attempts, outputs and log.

Two sources, because KFP 2.17's run API is thin: `run_details.task_details` lists Argo's nodes by
display name with their state (no outputs, and no link to a pod or a loop index), while each
executor pod carries the labels the cluster compile gave it, Argo's node name (loop indices as
`name(<index>:<item>)`, retries as `name(<attempt>)`) and a log whose last marked line is the
executor's output. A task instance is taken from its pods when they exist; tasks without pods
(skipped, cached, gone, or failed before starting) from the task details. A pod that is gone may
have left its log in Argo's archive (log_archive): the engine passes such logs in, on the pod's
record or keyed by the task detail's id, and the run's warnings say which logs came from there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kfp.pipeline_spec import pipeline_spec_pb2

from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED, PipelineRun, TaskRun
from appliance.targets.cluster.pipeline_ir import (
    OUTPUT_MARKER,
    TASKS_ANNOTATION,
    TaskPlace,
    pipeline_outputs,
    task_places,
)

NODE_NAME = "workflows.argoproj.io/node-name"
_LOOP_INDEX = re.compile(r"\((\d+):[^)]*\)")
_PARENTHESES = re.compile(r"\([^)]*\)")
# Lines of KFP's launcher (glog) and Argo's executor (logrus) in the main container's log: the
# task's own output is what the user printed, as on local.
_SYSTEM_LINE = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\] |time=\"[^\"]*\" level=)")
_EXCEPTION = re.compile(r"^\s*(?P<line>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b.*)$")
# KFP RuntimeState -> the model's task states. A task still RUNNING when its run ended did not
# finish. KFP 2.17 turns Argo phases it does not know into RUNTIME_STATE_UNSPECIFIED: "Omitted",
# the tasks Argo never started downstream of a failure, which kfp.local reports as SKIPPED.
_TASK_STATES = {"SUCCEEDED": SUCCEEDED, "SKIPPED": SKIPPED, "RUNTIME_STATE_UNSPECIFIED": SKIPPED,
                "FAILED": FAILED, "CANCELED": FAILED, "CANCELING": FAILED, "RUNNING": FAILED,
                "PENDING": FAILED, "PAUSED": FAILED}
POD_GONE = ("(no log: the task's pod is gone, and Argo's archive in the object store has no log of it "
            "either; Argo deletes finished pods after their time to live)")
POD_GONE_UNREAD = ("(no log: the task's pod is gone; Argo deletes finished pods after their time to "
                   "live, and its archived log was not looked up)")


@dataclass(frozen=True)
class PodLog:
    """An executor pod of the run and what reading its main container's log gave: the log, or
    `problem` (the pod was gone, or its container never started). `archive` is the s3:// URI the
    log was read from when the pod was gone (the pod record is then empty when only KFP's task
    details named it)."""

    pod: dict[str, Any]
    log: str | None
    problem: str = ""
    archive: str = ""


@dataclass
class _Instance:
    key: str
    name: str
    pods: list[PodLog] = field(default_factory=list)


def pipeline_run(
    run: Mapping[str, Any],
    spec: pipeline_spec_pb2.PipelineSpec,
    pods: Sequence[PodLog],
    arguments: Mapping[str, Any],
    *,
    duration: float,
    root: str,
    warnings: Sequence[str] = (),
    log: str = "",
    archived: Mapping[str, PodLog] | None = None,
) -> PipelineRun:
    """`archived`: the archived logs of tasks that have no pod any more, by task detail id (None:
    the archive was not looked up)."""
    places = task_places(spec)
    order = _topological(spec)
    details = _details_by_name(run, places)
    instances = _instances(pods, places)
    tasks: list[tuple[tuple[float, int, str], TaskRun]] = []
    sources: dict[str, list[str]] = {}
    for name, place in places.items():
        found = [i for i in instances.values() if i.name == name]
        named_details = details.get(name, [])
        if not found and not named_details:
            tasks.append(((float("inf"), order.get(name, 0), name), TaskRun(name, name, SKIPPED)))
            continue
        if not found:
            found = [_Instance(_key(place, [position] if place.loops else []), name)
                     for position in range(len(named_details) if place.loops else 1)]
        for position, instance in enumerate(sorted(found, key=lambda i: i.key)):
            task, sources[instance.key] = _task(instance, named_details, position, archived)
            started = _started(instance, named_details, position)
            tasks.append(((started, order.get(name, 0), task.key), task))
    ordered = tuple(task for _, task in sorted(tasks, key=lambda item: item[0]))
    failed = tuple(t.key for t in ordered if t.state == FAILED)
    state = str(run.get("state") or "")
    error = _run_error(state, failed, ordered, run)
    return PipelineRun(
        run_id=str(run.get("run_id") or ""),
        pipeline=spec.pipeline_info.name,
        state=SUCCEEDED if state == SUCCEEDED and not failed else FAILED,
        arguments=dict(arguments),
        outputs=_pipeline_outputs(spec, ordered),
        tasks=ordered,
        duration_seconds=duration,
        root=root,
        error=error,
        failed_tasks=failed,
        warnings=(*warnings, *_archive_notes(ordered, sources)),
        log=log,
    )


def _archive_notes(tasks: Sequence[TaskRun], sources: Mapping[str, list[str]]) -> list[str]:
    notes = []
    for task in tasks:
        uris = sources.get(task.key) or []
        if uris:
            whose = "its pod is" if len(uris) == 1 else "its pods are"
            notes.append(f"log of {task.key} read from the archive {', '.join(uris)} ({whose} gone)")
    return notes


def _details_by_name(run: Mapping[str, Any],
                     places: Mapping[str, TaskPlace]) -> dict[str, list[dict[str, Any]]]:
    details = (run.get("run_details") or {}).get("task_details") or []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for detail in details:
        name = str(detail.get("display_name") or "")
        if name in places:  # drivers ("<task>-driver"), DAG and Argo's own nodes are not tasks
            grouped.setdefault(name, []).append(detail)
    for found in grouped.values():
        found.sort(key=lambda d: (_seconds(d.get("start_time")), str(d.get("task_id") or "")))
    return grouped


def _instances(pods: Sequence[PodLog], places: Mapping[str, TaskPlace]) -> dict[str, _Instance]:
    """Pods grouped into task instances (retries of one instance share its key)."""
    instances: dict[str, _Instance] = {}
    for pod in sorted(pods, key=lambda p: str(_meta(p.pod).get("creationTimestamp") or "")):
        annotations = _meta(pod.pod).get("annotations") or {}
        node_name = str(annotations.get(NODE_NAME) or "")
        names = [n for n in str(annotations.get(TASKS_ANNOTATION) or "").split(",") if n]
        name = names[0] if len(names) == 1 else _PARENTHESES.sub("", node_name).rsplit(".", 1)[-1]
        place = places.get(name)
        if place is None:
            continue
        key = _key(place, [int(i) for i in _LOOP_INDEX.findall(node_name)])
        instances.setdefault(key, _Instance(key, name)).pods.append(pod)
    return instances


def _key(place: TaskPlace, indices: list[int]) -> str:
    loops = [f"{loop}-iteration-{index}" for loop, index in zip(place.loops, indices, strict=False)]
    return "/".join([*loops, place.name])


def _task(instance: _Instance, details: list[dict[str, Any]], position: int,
          archived: Mapping[str, PodLog] | None) -> tuple[TaskRun, list[str]]:
    detail = _detail_for(details, position)
    pods = instance.pods
    if not pods and detail is not None and archived is not None:
        found = archived.get(str(detail.get("task_id") or ""))
        pods = [found] if found is not None else []
    attempts = [_attempt(pod) for pod in pods]
    state = next((a.state for a in reversed(attempts) if a.state), "") or _detail_state(details, position)
    if attempts:
        logs = [a.log for a in attempts]
        log = logs[0] if len(logs) == 1 else "\n".join(
            f"--- attempt {i} of {len(logs)} ---\n{text}" for i, text in enumerate(logs, 1))
        outputs = attempts[-1].outputs
        last_log = attempts[-1].log
    else:
        gone = POD_GONE if archived is not None else POD_GONE_UNREAD
        log, outputs, last_log = (gone if state != SKIPPED else ""), {}, ""
    error = ""
    if state == FAILED:
        error = _error_line(last_log) or _detail_error(detail) or (
            attempts[-1].problem if attempts else log)
    task = TaskRun(
        key=instance.key,
        name=instance.name,
        state=state,
        attempts=len(attempts) or (1 if state in (SUCCEEDED, FAILED) else 0),
        duration_seconds=_duration(detail) if detail is not None else 0.0,
        outputs=outputs if state == SUCCEEDED else {},
        log=log,
        error=error,
    )
    return task, [pod.archive for pod in pods if pod.archive]


@dataclass(frozen=True)
class _Attempt:
    state: str  # "" when the pod cannot tell (still running, or its log was unreadable)
    log: str
    outputs: dict[str, Any]
    problem: str


def _attempt(pod: PodLog) -> _Attempt:
    if pod.log is None:
        return _Attempt(_pod_state(pod.pod), pod.problem or POD_GONE, {}, pod.problem or POD_GONE)
    lines: list[str] = []
    output: dict[str, Any] | None = None
    for line in pod.log.splitlines():
        if line.startswith(OUTPUT_MARKER):
            try:
                output = json.loads(line[len(OUTPUT_MARKER):])
            except ValueError:
                output = None
        elif not _SYSTEM_LINE.match(line):
            lines.append(line.rstrip("\r"))
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    # The marker is printed only after the executor exited 0: it is proof of success.
    state = SUCCEEDED if output is not None else _pod_state(pod.pod)
    return _Attempt(state, "\n".join(lines), _outputs(output or {}), "")


def _pod_state(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase == "Succeeded":
        return SUCCEEDED
    if phase == "Failed":
        return FAILED
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if container.get("name") == "main" and terminated and terminated.get("exitCode") not in (None, 0):
            return FAILED
    return ""


def _outputs(executor_output: Mapping[str, Any]) -> dict[str, Any]:
    """kfp's executor output as the local engine reports it: parameters as values, artifacts as
    {uri, metadata} (a list when an output has several)."""
    outputs: dict[str, Any] = dict(executor_output.get("parameterValues") or {})
    for name, listed in (executor_output.get("artifacts") or {}).items():
        found = [{"uri": a.get("uri", ""), "metadata": a.get("metadata") or {}}
                 for a in (listed or {}).get("artifacts", [])]
        outputs[name] = found[0] if len(found) == 1 else found
    return outputs


def _detail_for(details: list[dict[str, Any]], position: int) -> dict[str, Any] | None:
    if not details:
        return None
    return details[position] if position < len(details) else details[-1]


def _detail_state(details: list[dict[str, Any]], position: int) -> str:
    """A task's state from the run's task details: the one state they agree on, else the detail
    at the instance's position (iterations in start order), else SKIPPED (never started)."""
    states = {_TASK_STATES.get(str(d.get("state") or ""), FAILED) for d in details}
    if len(states) == 1:
        return states.pop()
    detail = _detail_for(details, position)
    return _TASK_STATES.get(str(detail.get("state") or ""), FAILED) if detail else SKIPPED


def _detail_error(detail: Mapping[str, Any] | None) -> str:
    error = (detail or {}).get("error") or {}
    return str(error.get("message") or "") if isinstance(error, Mapping) else ""


def _error_line(log: str) -> str:
    """The last exception line the task printed, else its last line (as the local engine)."""
    lines = log.splitlines()
    found = [m.group("line").strip() for m in map(_EXCEPTION.match, lines) if m]
    if found:
        return found[-1]
    return lines[-1].strip() if lines else ""


def _started(instance: _Instance, details: list[dict[str, Any]], position: int) -> float:
    """When the instance started: its task detail's start (one clock for every task of the run),
    else its first pod's creation."""
    detail = _detail_for(details, position)
    if detail is not None and _seconds(detail.get("start_time")) != float("inf"):
        return _seconds(detail.get("start_time"))
    if instance.pods:
        return _seconds(_meta(instance.pods[0].pod).get("creationTimestamp"))
    return float("inf")


def _duration(detail: Mapping[str, Any]) -> float:
    start, end = _seconds(detail.get("start_time")), _seconds(detail.get("end_time"))
    return max(0.0, end - start) if end != float("inf") and start != float("inf") else 0.0


def _seconds(value: Any) -> float:
    """A timestamp (datetime, or RFC 3339 text) as epoch seconds; inf when absent."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return float("inf")
    return float("inf")


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _topological(spec: pipeline_spec_pb2.PipelineSpec) -> dict[str, int]:
    """Executor task -> its position in a topological walk of the DAGs (ties of equal start time
    are broken by it, so the order reads as the pipeline does)."""
    order: dict[str, int] = {}

    def walk(dag: pipeline_spec_pb2.DagSpec) -> None:
        remaining = dict(dag.tasks)
        while remaining:
            ready = sorted(n for n, t in remaining.items()
                           if not set(t.dependent_tasks) & set(remaining))
            if not ready:  # a cycle cannot compile; be safe anyway
                ready = sorted(remaining)
            for name in ready:
                task = remaining.pop(name)
                component = spec.components.get(task.component_ref.name)
                if component is not None and component.WhichOneof("implementation") == "dag":
                    walk(component.dag)
                else:
                    order.setdefault(name, len(order))

    walk(spec.root.dag)
    return order


def _pipeline_outputs(spec: pipeline_spec_pb2.PipelineSpec, tasks: Sequence[TaskRun]) -> dict[str, Any]:
    by_key = {t.key: t for t in tasks}
    outputs: dict[str, Any] = {}
    for name, (producer, key) in pipeline_outputs(spec).items():
        task = by_key.get(producer)
        if task is not None and key in task.outputs:
            outputs[name] = task.outputs[key]
    return outputs


def _run_error(state: str, failed: Sequence[str], tasks: Sequence[TaskRun], run: Mapping[str, Any]) -> str:
    error = run.get("error") or {}
    message = str(error.get("message") or "") if isinstance(error, Mapping) else ""
    if failed:
        first = next(t for t in tasks if t.key == failed[0])
        text = f"task {', '.join(failed)} failed"
        return f"{text}: {first.error}" if first.error else text
    if state != SUCCEEDED:
        return f"the KFP run ended {state or 'in an unknown state'}" + (f": {message}" if message else "")
    return ""
