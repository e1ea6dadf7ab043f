"""Why a component is not ready, in words: conditions, pod states, events, logs and a mapped hint."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from appliance.k8s.data import as_dict, as_list
from appliance.review import pss
from appliance.review.model import render_path
from appliance.review.podspecs import pod_views

Obj = dict[str, Any]
GiB = 1024**3

# Only Warning events explain a stuck rollout; Normal ones (Pulled, Created, Started) are noise.
MAX_EVENTS = 10
LOG_TAIL = 50


@dataclass(frozen=True)
class HintContext:
    """What the caller knows about the machine, so hints can name numbers (all optional)."""

    profile: str | None = None
    docker_memory: int | None = None  # bytes Docker gives its VM/containers (kind target)
    required_memory: int | None = None  # bytes the profile needs
    docker_cpus: int | None = None
    required_cpus: int | None = None


@dataclass(frozen=True)
class Diagnosis:
    """One not-ready component explained; `render()` is the text users read."""

    component: str  # e.g. "Deployment kubeflow/mysql"
    status: str  # why it is not ready, one line
    conditions: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    logs: tuple[tuple[str, str], ...] = ()  # (title, text)
    hints: tuple[str, ...] = field(default=())

    def render(self) -> str:
        lines = [f"✗ {self.component}: {self.status}"]
        for title, items in (("conditions", self.conditions), ("pods", self.pods),
                             ("events", self.events)):
            if items:
                lines.append(f"  {title}:")
                lines += [f"    {item}" for item in items]
        for title, text in self.logs:
            lines.append(f"  {title}:")
            lines += [f"    | {line}" for line in text.rstrip("\n").splitlines()] or ["    | (empty)"]
        lines += [f"  hint: {hint}" for hint in self.hints]
        return "\n".join(lines)


def _name(obj: Obj) -> str:
    return str(as_dict(obj.get("metadata")).get("name") or "")


def condition_lines(obj: Obj) -> tuple[str, ...]:
    """`Type=Status (Reason): message` for each status condition, in the server's order."""
    out = []
    for cond in as_list(as_dict(obj.get("status")).get("conditions")):
        cond = as_dict(cond)
        line = f"{cond.get('type')}={cond.get('status')}"
        if cond.get("reason"):
            line += f" ({cond['reason']})"
        if cond.get("message"):
            line += f": {cond['message']}"
        out.append(line)
    return tuple(out)


def pod_is_ready(pod: Obj) -> bool:
    if as_dict(pod.get("metadata")).get("deletionTimestamp"):
        return False
    status = as_dict(pod.get("status"))
    if status.get("phase") != "Running":
        return False
    return any(as_dict(c).get("type") == "Ready" and as_dict(c).get("status") == "True"
               for c in as_list(status.get("conditions")))


def _container_line(kind: str, status: Obj) -> str | None:
    """One container's state when it explains something; None for a healthy one."""
    name = status.get("name")
    state = as_dict(status.get("state"))
    restarts = int(status.get("restartCount") or 0)
    last = as_dict(as_dict(status.get("lastState")).get("terminated"))
    suffix = ""
    if restarts:
        suffix = f" (restarts {restarts}"
        if last:
            suffix += f"; last exit {last.get('exitCode')} {last.get('reason') or ''}".rstrip()
        suffix += ")"
    if "waiting" in state:
        waiting = as_dict(state["waiting"])
        text = f"{kind} {name}: waiting {waiting.get('reason') or ''}".rstrip()
        if waiting.get("message"):
            text += f": {waiting['message']}"
        return text + suffix
    if "terminated" in state:
        term = as_dict(state["terminated"])
        if kind == "init container" and term.get("exitCode") == 0:
            return None
        text = f"{kind} {name}: terminated {term.get('reason') or ''} (exit {term.get('exitCode')})"
        if term.get("message"):
            text += f": {term['message']}"
        return text + suffix
    if "running" in state:
        if kind == "init container":
            return f"{kind} {name}: running (the pod waits for it to finish){suffix}"
        if status.get("ready") is not True:
            return f"{kind} {name}: running, not ready{suffix}"
        return f"{kind} {name}: running, ready{suffix}" if restarts else None
    return None


def pod_lines(pod: Obj) -> list[str]:
    """A pod and, indented, each container that explains why it is not ready."""
    meta = as_dict(pod.get("metadata"))
    status = as_dict(pod.get("status"))
    state = str(status.get("phase") or "Unknown")
    if meta.get("deletionTimestamp"):
        state += ", terminating"
    state += ", ready" if pod_is_ready(pod) else ", not ready"
    lines = [f"pod {_name(pod)}: {state}"]
    for cond in as_list(status.get("conditions")):
        cond = as_dict(cond)
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            lines.append(f"  not scheduled ({cond.get('reason')}): {cond.get('message')}")
    for key, kind in (("initContainerStatuses", "init container"),
                      ("containerStatuses", "container")):
        for cstatus in as_list(status.get(key)):
            line = _container_line(kind, as_dict(cstatus))
            if line:
                lines.append(f"  {line}")
    return lines


def crash_looping(pods: Iterable[Obj]) -> list[tuple[str, str]]:
    """(pod, container) whose previous run's log explains a crash loop: restarted at least once."""
    out = []
    for pod in pods:
        for key in ("initContainerStatuses", "containerStatuses"):
            for cstatus in as_list(as_dict(pod.get("status")).get(key)):
                cstatus = as_dict(cstatus)
                if int(cstatus.get("restartCount") or 0) > 0 and \
                        as_dict(cstatus.get("lastState")).get("terminated"):
                    out.append((_name(pod), str(cstatus.get("name"))))
    return out


def _event_time(event: Obj) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or "")


_POD_NAME = re.compile(r'pods "[^"]*"')


def event_lines(events: Iterable[Obj], limit: int = MAX_EVENTS) -> tuple[str, ...]:
    """Warning events, oldest first, the newest `limit` of them. Repeats are counted, including a
    ReplicaSet's refusals that differ only in the name of the pod it tried to create."""
    groups: dict[tuple[str, str, str, str], tuple[Obj, int]] = {}
    for event in sorted((e for e in events if e.get("type") == "Warning"), key=_event_time):
        involved = as_dict(event.get("involvedObject"))
        key = (str(event.get("reason")), str(involved.get("kind")), str(involved.get("name")),
               _POD_NAME.sub('pods ""', str(event.get("message"))))
        _, count = groups.pop(key, (event, 0))
        groups[key] = (event, count + int(event.get("count") or 1))  # re-inserted: newest last
    out = []
    for (reason, kind, name, _), (event, count) in list(groups.items())[-limit:]:
        line = f"{reason} {kind}/{name}: {event.get('message')}"
        if count > 1:
            line += f" (x{count})"
        out.append(line)
    return tuple(out)


# --- hints ----------------------------------------------------------------------------------------


def _gib(value: int) -> str:
    amount = value / GiB
    return f"{amount:.0f} GiB" if abs(amount - round(amount)) < 0.05 else f"{amount:.1f} GiB"


_PSA = re.compile(r'violates PodSecurity "(?P<level>baseline|restricted):(?P<version>[^"]+)"')
_IMAGE_PULL = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull")


def _containers(deployment: Obj) -> dict[str, Obj]:
    spec = as_dict(as_dict(as_dict(deployment.get("spec")).get("template")).get("spec"))
    return {str(c.get("name")): c for key in ("initContainers", "containers")
            for c in as_list(spec.get(key)) if isinstance(c, dict)}


def _memory_hint(context: HintContext) -> str:
    if context.docker_memory and context.required_memory:
        profile = f"the {context.profile} profile" if context.profile else "this profile"
        if context.docker_memory < context.required_memory:
            return (f"Docker has {_gib(context.docker_memory)}; {profile} needs "
                    f"{_gib(context.required_memory)}; raise Docker's memory and run 'appliance up' again")
        return (f"Docker has {_gib(context.docker_memory)}, enough for {profile}, but the node's free "
                "memory is not: other containers or clusters use it; stop them or raise Docker's memory")
    return "the node has not enough free memory for the pod's requests; free memory or add a node"


def _cpu_hint(context: HintContext) -> str:
    if context.docker_cpus and context.required_cpus:
        profile = f"the {context.profile} profile" if context.profile else "this profile"
        return (f"Docker has {context.docker_cpus} CPUs; {profile} needs {context.required_cpus}; "
                "raise Docker's CPUs and run 'appliance up' again")
    return "the node has not enough free CPU for the pod's requests; free CPU or add a node"


def _pod_security_hint(deployment: Obj, message: str) -> str | None:
    match = _PSA.search(message)
    if not match:
        return None
    level, version_text = match.group("level"), match.group("version")
    namespace = as_dict(deployment.get("metadata")).get("namespace")
    try:
        version = pss.parse_version(version_text)
    except ValueError:
        version = pss.LATEST
    paths = []
    for view in pod_views(deployment):
        for violation in pss.evaluate(view, level, version):
            text = render_path(violation.path)
            if text not in paths:
                paths.append(text)
    where = f"; fix {', '.join(paths)}" if paths else ""
    return (f"namespace {namespace} enforces Pod Security {level}:{version_text} and the pod template "
            f"breaks it{where} (in the catalog's patches, or declare an exception there)")


def hints(deployment: Obj, pods: list[Obj], events: list[Obj], context: HintContext) -> tuple[str, ...]:
    """Mapped advice for the failure modes of kind.md §5, most specific first, no duplicates."""
    out: list[str] = []

    def add(hint: str | None) -> None:
        if hint and hint not in out:
            out.append(hint)

    containers = _containers(deployment)
    messages = [(str(e.get("reason") or ""), str(e.get("message") or "")) for e in events
                if e.get("type") == "Warning"]
    messages += [(str(c.get("reason") or ""), str(c.get("message") or ""))
                 for c in as_list(as_dict(deployment.get("status")).get("conditions"))
                 if as_dict(c).get("type") == "ReplicaFailure" and as_dict(c).get("status") == "True"]
    for reason, message in messages:
        if reason == "FailedScheduling":
            if "Insufficient memory" in message:
                add(_memory_hint(context))
            if "Insufficient cpu" in message:
                add(_cpu_hint(context))
            if "persistentvolumeclaim" in message.lower():
                add("a PersistentVolumeClaim is missing or unbound: the cluster needs a default "
                    "StorageClass (kind ships 'standard'); check 'kubectl get storageclass'")
        elif reason == "FailedCreate" and "violates PodSecurity" in message:
            add(_pod_security_hint(deployment, message))
        elif reason == "FailedCreate" and "failed calling webhook" in message:
            add("pod creation is blocked by an admission webhook whose backend does not answer; "
                "wait for its Deployment or check its Service endpoints")
        elif reason == "FailedMount":
            add(f"a volume cannot be mounted ({message}); create what it references or fix the volume")
        elif reason == "Unhealthy" and message.startswith("Readiness probe failed"):
            add(f"the container runs but its readiness probe fails ({message}); its log says why")
    for pod in pods:
        for key in ("initContainerStatuses", "containerStatuses"):
            for cstatus in as_list(as_dict(pod.get("status")).get(key)):
                cstatus = as_dict(cstatus)
                name = str(cstatus.get("name"))
                spec = containers.get(name, {})
                waiting = as_dict(as_dict(cstatus.get("state")).get("waiting"))
                reason, message = str(waiting.get("reason") or ""), str(waiting.get("message") or "")
                image = str(spec.get("image") or cstatus.get("image") or "")
                if reason in _IMAGE_PULL:
                    add(_image_hint(image, str(spec.get("imagePullPolicy") or "")))
                elif reason == "CrashLoopBackOff":
                    add(f"container {name} keeps crashing (restarts {cstatus.get('restartCount', 0)}); "
                        "read its previous log above")
                elif reason == "CreateContainerConfigError":
                    if "runAsNonRoot" in message and "root" in message:
                        add(f"image {image} runs as root but the pod requires runAsNonRoot; set "
                            f"securityContext.runAsUser to a non-zero UID for container {name}")
                    else:
                        add(f"container {name} cannot be created ({message}); create what it "
                            "references or fix the reference")
    for cond in as_list(as_dict(deployment.get("status")).get("conditions")):
        cond = as_dict(cond)
        if cond.get("reason") == "ProgressDeadlineExceeded":
            seconds = as_dict(deployment.get("spec")).get("progressDeadlineSeconds", 600)
            add(f"the rollout made no progress for {seconds}s; the pod states above say why")
    return tuple(out)


def _image_hint(image: str, policy: str) -> str:
    if policy == "Always":
        return (f"image {image} is pulled with imagePullPolicy Always, so a preloaded copy is not "
                "used; set IfNotPresent (catalog patch) or give the node registry access")
    if "@sha256:" in image:
        return (f"image {image} is pinned by digest, which images loaded into kind do not satisfy "
                "(kind#2394); give the node registry access or use --registry-cache")
    return (f"image {image} cannot be pulled; preload it ('kind load image-archive') or give the "
            "node access to its registry")


def deployment_status(deployment: Obj) -> str:
    """`a/b available` plus the decisive condition, one line."""
    spec, status = as_dict(deployment.get("spec")), as_dict(deployment.get("status"))
    wanted = spec.get("replicas", 1)
    line = f"{int(status.get('availableReplicas') or 0)}/{wanted} available"
    meta = as_dict(deployment.get("metadata"))
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        line += ", newer spec not yet observed"
    for cond in as_list(status.get("conditions")):
        cond = as_dict(cond)
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            line += f", {cond.get('reason')}"
        if cond.get("reason") == "ProgressDeadlineExceeded":
            line += ", ProgressDeadlineExceeded"
    return line


def diagnose(deployment: Obj, pods: list[Obj], events: list[Obj], logs: Mapping[tuple[str, str], str],
             context: HintContext | None = None) -> Diagnosis:
    """Explain a not-ready Deployment from its pods, the events about it, its pods and its
    ReplicaSets, and the previous logs of its crash-looping containers ((pod, container) -> text)."""
    meta = as_dict(deployment.get("metadata"))
    ordered_pods = sorted(pods, key=_name)
    pod_text = tuple(line for pod in ordered_pods for line in pod_lines(pod))
    log_items = tuple(
        (f"previous log of {pod}/{container} (last {LOG_TAIL} lines)",
         "\n".join(text.rstrip("\n").splitlines()[-LOG_TAIL:]))
        for (pod, container), text in sorted(logs.items())
    )
    return Diagnosis(
        component=f"Deployment {meta.get('namespace')}/{meta.get('name')}",
        status=deployment_status(deployment),
        conditions=condition_lines(deployment),
        pods=pod_text,
        events=event_lines(events),
        logs=log_items,
        hints=hints(deployment, ordered_pods, events, context or HintContext()),
    )


def missing(namespace: str, name: str) -> Diagnosis:
    """A component whose Deployment does not exist at all."""
    return Diagnosis(f"Deployment {namespace}/{name}", "does not exist",
                     hints=("it was never applied or was deleted; run 'appliance up' again",))
