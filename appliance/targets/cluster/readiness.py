"""Readiness: pure verdicts on API objects, and the waits built on them (stages, webhooks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.errors import EXIT_EXTERNAL, ApplianceError
from appliance.k8s.data import as_dict, as_list, conditions
from appliance.targets.cluster.client import ApiError, KubeClient, ObjRef, is_transient
from appliance.targets.cluster.diagnosis import (
    LOG_TAIL,
    Diagnosis,
    HintContext,
    crash_looping,
    deployment_status,
    diagnose,
    missing,
    pod_is_ready,
    pod_lines,
)
from appliance.targets.cluster.wait import Clock, Progress, listing, wait_for

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Verdict:
    ready: bool
    why: str = ""

    def __bool__(self) -> bool:
        return self.ready


READY = Verdict(True)


def crd_established(crd: Obj) -> Verdict:
    """Established=True and NamesAccepted=True; conditions not yet written count as not yet."""
    conds = conditions(crd)
    if "Established" not in conds and "NamesAccepted" not in conds:
        return Verdict(False, "no conditions yet")
    problems = []
    for kind in ("NamesAccepted", "Established"):
        cond = conds.get(kind)
        if cond is None:
            problems.append(f"no {kind} condition yet")
        elif cond.get("status") != "True":
            text = f"{kind}={cond.get('status')}"
            if cond.get("message"):
                text += f" ({cond['message']})"
            problems.append(text)
    return Verdict(not problems, ", ".join(problems))


def deployment_ready(deployment: Obj) -> Verdict:
    """Rolled out and available: the newest spec observed, Available=True, every replica
    updated and available, and no ReplicaFailure (kind.md §7.2 action 10)."""
    meta, spec, status = as_dict(deployment.get("metadata")), as_dict(deployment.get("spec")), \
        as_dict(deployment.get("status"))
    conds = conditions(deployment)
    wanted = int(spec.get("replicas", 1))
    failure = conds.get("ReplicaFailure")
    ok = (
        int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
        and conds.get("Available", {}).get("status") == "True"
        and int(status.get("updatedReplicas") or 0) == wanted
        and int(status.get("replicas") or 0) == wanted
        and int(status.get("availableReplicas") or 0) == wanted
        and not (failure and failure.get("status") == "True")
    )
    return READY if ok else Verdict(False, deployment_status(deployment))


def endpoints_ready(slices: Iterable[Obj]) -> Verdict:
    """A Service answers when one of its EndpointSlices has an endpoint not marked unready
    (an absent `ready` means ready, as the EndpointSlice API documents)."""
    for endpoint_slice in slices:
        for endpoint in as_list(endpoint_slice.get("endpoints")):
            if as_dict(as_dict(endpoint).get("conditions")).get("ready") is not False:
                return READY
    return Verdict(False, "no ready endpoints")


def webhook_services(config: Obj) -> list[tuple[str, str, bool]]:
    """(namespace, service, has CA bundle) for each webhook of a webhook configuration."""
    out = []
    for hook in as_list(config.get("webhooks")):
        client_config = as_dict(as_dict(hook).get("clientConfig"))
        service = as_dict(client_config.get("service"))
        if service:
            out.append((str(service.get("namespace")), str(service.get("name")),
                        bool(client_config.get("caBundle"))))
    return out


# --- observing a component through the client -----------------------------------------------------


@dataclass(frozen=True)
class Component:
    """A Deployment the stack needs, with how long it may take to become ready."""

    namespace: str
    name: str
    timeout: float = 300.0

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Stage:
    name: str
    components: tuple[Component, ...]


# Data stores first (kind.md §7.2 action 10, budgets from KFP's Makefile and the manifests' tests):
# everything else crash-loops until they answer.
DATA_STORES = {"minio": 180.0, "mysql": 600.0, "katib-mysql": 300.0}
DEFAULT_TIMEOUT = 300.0
OVERALL_TIMEOUT = 900.0


def stages_for(objects: Iterable[Obj]) -> list[Stage]:
    """The readiness stages of a bundle: its data stores, then every other Deployment."""
    stores, rest = [], []
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        meta = as_dict(obj.get("metadata"))
        name, namespace = str(meta.get("name")), str(meta.get("namespace") or "default")
        if name in DATA_STORES:
            stores.append(Component(namespace, name, DATA_STORES[name]))
        else:
            rest.append(Component(namespace, name, DEFAULT_TIMEOUT))
    stages = [Stage("data stores", tuple(stores)), Stage("services", tuple(rest))]
    return [stage for stage in stages if stage.components]


@dataclass(frozen=True)
class Observed:
    component: Component
    deployment: Obj | None
    replicasets: tuple[Obj, ...] = ()
    pods: tuple[Obj, ...] = ()
    error: str = ""  # a transient API failure while reading: not a verdict on the component

    @property
    def ready(self) -> bool:
        return not self.error and self.deployment is not None and bool(deployment_ready(self.deployment))


def _owned_by(obj: Obj, kind: str, names: Iterable[str]) -> bool:
    wanted = set(names)
    return any(as_dict(o).get("kind") == kind and as_dict(o).get("name") in wanted
               for o in as_list(as_dict(obj.get("metadata")).get("ownerReferences")))


def observe(client: KubeClient, component: Component) -> Observed:
    """The Deployment, its ReplicaSets and their pods (by owner, not only by labels: selectors of
    different Deployments may overlap)."""
    deployment = client.get(ObjRef("apps/v1", "Deployment", component.name, component.namespace))
    if deployment is None:
        return Observed(component, None)
    selector = as_dict(as_dict(as_dict(deployment.get("spec")).get("selector")).get("matchLabels"))
    labels = {str(k): str(v) for k, v in selector.items()} or None
    replicasets = [rs for rs in client.list("apps/v1", "ReplicaSet", component.namespace, labels)
                   if _owned_by(rs, "Deployment", [component.name])]
    names = [str(as_dict(rs.get("metadata")).get("name")) for rs in replicasets]
    pods = [pod for pod in client.list("v1", "Pod", component.namespace, labels)
            if _owned_by(pod, "ReplicaSet", names)]
    return Observed(component, deployment, tuple(replicasets), tuple(pods))


def explain(client: KubeClient, observed: Observed, context: HintContext | None = None) -> Diagnosis:
    """A Diagnosis with the events about the component's objects and its crash loops' logs."""
    component = observed.component
    if observed.error:
        return Diagnosis(f"Deployment {component}", f"could not be read: {observed.error}")
    if observed.deployment is None:
        return missing(component.namespace, component.name)
    about = {("Deployment", component.name)}
    about |= {("ReplicaSet", str(as_dict(rs.get("metadata")).get("name"))) for rs in observed.replicasets}
    about |= {("Pod", str(as_dict(p.get("metadata")).get("name"))) for p in observed.pods}
    events = [e for e in client.events(component.namespace)
              if (as_dict(e.get("involvedObject")).get("kind"), as_dict(e.get("involvedObject")).get("name"))
              in about]
    logs: dict[tuple[str, str], str] = {}
    for pod, container in crash_looping(observed.pods):
        try:
            logs[(pod, container)] = client.pod_logs(component.namespace, pod, container,
                                                     previous=True, tail=LOG_TAIL)
        except ApiError as exc:
            logs[(pod, container)] = f"(previous log unavailable: {exc.message})"
    return diagnose(observed.deployment, list(observed.pods), events, logs, context)


def waiting_text(observed: Observed) -> str:
    """`ns/name (why; first pod detail)` for a progress line."""
    if observed.error:
        return f"{observed.component} (API error: {observed.error})"
    if observed.deployment is None:
        return f"{observed.component} (not found)"
    why = deployment_ready(observed.deployment).why
    for pod in sorted(observed.pods, key=lambda p: str(as_dict(p.get("metadata")).get("name"))):
        if not pod_is_ready(pod):
            lines = pod_lines(pod)
            detail = lines[1].strip() if len(lines) > 1 else lines[0]
            return f"{observed.component} ({why}; {detail})"
    return f"{observed.component} ({why})"


class NotReady(ApplianceError):
    """Components did not become ready in time; carries the diagnosis of each."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, what: str, diagnoses: Sequence[Diagnosis]) -> None:
        names = ", ".join(d.component for d in diagnoses)
        super().__init__(what, f"not ready: {names}",
                         "read the diagnosis below; 'appliance diagnose' writes the full bundle")
        self.diagnoses = list(diagnoses)

    def render(self) -> str:
        return "\n".join([super().render(), *(d.render() for d in self.diagnoses)])


def _restarts(pods: Iterable[Obj]) -> int:
    return sum(int(as_dict(c).get("restartCount") or 0) for pod in pods
               for key in ("initContainerStatuses", "containerStatuses")
               for c in as_list(as_dict(pod.get("status")).get(key)))


def _crash_looping_pods(pods: Iterable[Obj]) -> list[str]:
    out = []
    for pod in pods:
        for cstatus in as_list(as_dict(pod.get("status")).get("containerStatuses")):
            reason = as_dict(as_dict(as_dict(cstatus).get("state")).get("waiting")).get("reason")
            if reason == "CrashLoopBackOff":
                out.append(str(as_dict(pod.get("metadata")).get("name")))
                break
    return out


@dataclass
class _StageWatch:
    """One stage's poll: per-component deadlines, the calm check, one back-off reset each."""

    client: KubeClient
    stage: Stage
    clock: Clock
    start: float
    overall_deadline: float
    calm: float
    reset_backoff: bool
    context: HintContext | None
    note: Callable[[str], None]
    settled_since: float | None = None
    settled_restarts: int = -1
    reset_done: set[Component] = field(default_factory=set)

    def check(self) -> str | None:
        now = self.clock.monotonic()
        observed = [self._observe(c) for c in self.stage.components]
        waiting = [o for o in observed if not o.ready]
        expired = [o for o in waiting
                   if now >= min(self.start + o.component.timeout, self.overall_deadline)]
        if expired:
            raise NotReady(f"{self.stage.name} not ready in time",
                           [explain(self.client, o, self.context) for o in waiting])
        if self.reset_backoff:
            self._reset(observed)
        if waiting:
            self.settled_since = None
            return "waiting for " + ", ".join(waiting_text(o) for o in waiting)
        # Calm: all ready, and no container restarted over `calm` seconds (KFP's calm idea).
        restarts = _restarts(p for o in observed for p in o.pods)
        if self.settled_since is None or restarts != self.settled_restarts:
            self.settled_since, self.settled_restarts = now, restarts
        if now - self.settled_since >= self.calm:
            return None
        return f"{self.stage.name} ready; checking that nothing restarts for {self.calm:.0f}s"

    def _observe(self, component: Component) -> Observed:
        try:
            return observe(self.client, component)
        except ApiError as exc:
            if not is_transient(exc):
                raise
            # The API server restarting under load is not a verdict on the component.
            return Observed(component, None, error=exc.message)

    def _reset(self, observed: list[Observed]) -> None:
        # A dependent that crash-looped while its data store came up sits in kubelet back-off
        # (up to 5 min); deleting the pod once starts it fresh (kind.md §7.2 action 10).
        for obs in observed:
            if obs.component in self.reset_done:
                continue
            looping = _crash_looping_pods(obs.pods)
            if not looping:
                continue
            self.reset_done.add(obs.component)
            for pod in looping:
                self.client.delete(ObjRef("v1", "Pod", pod, obs.component.namespace))
            self.note(f"restarted {', '.join(looping)} once to reset its crash-loop back-off")


def wait_stages(client: KubeClient, stages: Sequence[Stage], clock: Clock, *,
                interval: float = 5.0, overall: float = OVERALL_TIMEOUT, calm: float = 10.0,
                context: HintContext | None = None, on_progress: Progress | None = None) -> float:
    """Wait for each stage in turn; raise NotReady with a diagnosis of every component still not
    ready once one of them passes its own timeout (or the overall cap). Returns seconds waited.

    From the second stage on, a crash-looping pod is deleted once per component: its data store
    is ready by then, so the back-off only delays it.
    """
    begin = clock.monotonic()
    overall_deadline = begin + overall

    def note(text: str) -> None:
        if on_progress is not None:
            on_progress(text, clock.monotonic() - begin)

    for index, stage in enumerate(stages):
        start = clock.monotonic()
        watch = _StageWatch(client, stage, clock, start, overall_deadline, calm,
                            reset_backoff=index > 0, context=context, note=note)
        longest = max(c.timeout for c in stage.components)
        limit = max(0.0, min(start + longest, overall_deadline) - start)
        offset = start - begin
        report = None if on_progress is None else \
            (lambda text, elapsed, offset=offset: on_progress(text, offset + elapsed))
        # The watch raises NotReady with diagnoses itself; wait_for's own timeout is only a
        # backstop one interval later (the watch's deadlines are checked on every poll).
        wait_for(watch.check, what=stage.name, timeout=limit + interval, interval=interval,
                 clock=clock, on_progress=report)
    return clock.monotonic() - begin


def webhooks_waiting(client: KubeClient, configs: Sequence[ObjRef]) -> str | None:
    """None when every webhook configuration exists, has CA bundles and its services answer."""
    problems = []
    for ref in configs:
        config = client.get(ref)
        if config is None:
            problems.append(f"{ref} not found")
            continue
        for namespace, service, has_ca in webhook_services(config):
            if not has_ca:
                problems.append(f"{ref}: no caBundle yet (its controller writes it)")
                continue
            slices = client.list("discovery.k8s.io/v1", "EndpointSlice", namespace,
                                 {SERVICE_NAME_LABEL: service})
            verdict = endpoints_ready(slices)
            if not verdict:
                problems.append(f"{ref}: service {namespace}/{service} has {verdict.why}")
    unique = list(dict.fromkeys(problems))
    return listing(unique) if unique else None


def wait_webhooks(client: KubeClient, configs: Sequence[ObjRef], clock: Clock, *,
                  timeout: float = 120.0, interval: float = 2.0,
                  on_progress: Progress | None = None) -> float:
    """Wait until the webhooks' backends serve (kind.md §7.2 action 11)."""
    return wait_for(lambda: webhooks_waiting(client, configs), what="admission webhooks",
                    timeout=timeout, interval=interval, clock=clock, on_progress=on_progress)
