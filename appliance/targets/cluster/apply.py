"""Phased server-side apply (Namespaces and CRDs, built-in objects, custom resources) and its reverse."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.errors import EXIT_EXTERNAL, ApplianceError, MissingPrerequisite
from appliance.k8s.scope import BUILTIN_CLUSTER_SCOPED
from appliance.render.bundle import sort_key
from appliance.targets.cluster.client import ApiError, KubeClient, ObjRef, is_transient
from appliance.targets.cluster.readiness import crd_established
from appliance.targets.cluster.wait import Clock, Progress, listing, wait_for

Obj = dict[str, Any]

_BUILTIN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling"})
TRANSIENT_DELAYS = (2.0, 5.0, 10.0)  # kind.md §7.2 action 9
# What the API server says while an admission webhook's backend is not serving yet.
WEBHOOK_NOT_SERVING = ("failed calling webhook", "connection refused", "no endpoints available")


class ApplyFailed(ApplianceError):
    """The API server refused an object: names the object and quotes the server (exit 4)."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, ref: ObjRef, error: ApiError, note: str = "", action: str = "apply") -> None:
        why = f"{error.status} {error.reason}: {error.message}"
        if note:
            why += f" ({note})"
        fix = "fix the object (catalog or profile) or the cluster, then run 'appliance up' again" \
            if action == "apply" else "run 'appliance down' again; 'appliance diagnose' shows the cluster"
        super().__init__(f"cannot {action} {ref}", why, fix)
        self.ref = ref
        self.error = error


@dataclass(frozen=True)
class Plan:
    """A bundle split into the three apply phases, each in dependency order."""

    foundation: list[Obj]  # Namespaces and CustomResourceDefinitions
    builtins: list[Obj]  # RBAC, config, Secrets, PVCs, workloads, Services, policies, webhooks
    custom: list[Obj]  # custom resources: need their CRD established and their webhooks served

    @property
    def crds(self) -> list[str]:
        return [str(o["metadata"]["name"]) for o in self.foundation
                if o.get("kind") == "CustomResourceDefinition"]


def data_only(secret: Obj) -> Obj:
    """A Secret with `stringData` folded into base64 `data` (stringData wins for a shared key, as
    the API server does): server-side apply and stringData do not mix (kubernetes#118519)."""
    if secret.get("kind") != "Secret" or "stringData" not in secret:
        return secret
    out = copy.deepcopy(secret)
    data = dict(out.get("data") or {})
    for key, value in (out.pop("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    out["data"] = data
    return out


def _group(obj: Obj) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[0]


def _custom_kinds(objects: Iterable[Obj]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for every CRD in the objects."""
    out = {}
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = str((spec.get("names") or {}).get("kind") or "")
            out[(str(spec.get("group") or ""), kind)] = spec.get("scope") != "Cluster"
    return out


def _is_builtin_group(group: str) -> bool:
    return group in _BUILTIN_GROUPS or group.endswith(".k8s.io")


def plan(objects: Sequence[Obj]) -> Plan:
    """Split and order objects for applying: Secrets as `data`, and no namespace on cluster-scoped
    objects (the API rejects a namespace that does not match the request's)."""
    custom_kinds = _custom_kinds(objects)
    foundation: list[Obj] = []
    builtins: list[Obj] = []
    custom: list[Obj] = []
    for original in objects:
        obj = data_only(original)
        kind, group = str(obj.get("kind") or ""), _group(obj)
        is_custom = (group, kind) in custom_kinds or not _is_builtin_group(group)
        cluster_scoped = kind in BUILTIN_CLUSTER_SCOPED if not is_custom else \
            custom_kinds.get((group, kind)) is False
        if cluster_scoped and (obj.get("metadata") or {}).get("namespace"):
            obj = copy.deepcopy(obj) if obj is original else obj
            del obj["metadata"]["namespace"]
        if kind in ("Namespace", "CustomResourceDefinition"):
            foundation.append(obj)
        elif is_custom:
            custom.append(obj)
        else:
            builtins.append(obj)
    return Plan(sorted(foundation, key=sort_key), sorted(builtins, key=sort_key),
                sorted(custom, key=sort_key))


def _refused(ref: ObjRef, error: ApiError) -> ApplianceError:
    """What a non-retryable refusal means: a kind the cluster does not serve is a missing
    prerequisite (exit 3); anything else is the API failing the object (exit 4)."""
    if error.status == 404 and error.message.startswith("no matches for kind"):
        return MissingPrerequisite(
            f"cannot apply {ref}: the cluster does not serve {ref.kind} ({ref.api_version})",
            error.message,
            "install the CRD that defines it (or use a Kubernetes version that serves it), "
            "or remove the object")
    return ApplyFailed(ref, error)


def _apply_with_retries(client: KubeClient, obj: Obj, clock: Clock,
                        delays: Sequence[float] = TRANSIENT_DELAYS) -> Obj:
    ref = ObjRef.of(obj)
    for attempt in range(len(delays) + 1):
        try:
            return client.apply([obj])[0]
        except ApiError as exc:
            if not is_transient(exc):
                raise _refused(ref, exc) from None
            if attempt == len(delays):
                raise ApplyFailed(ref, exc, f"still failing after {len(delays)} retries") from None
            clock.sleep(delays[attempt])
    raise AssertionError("unreachable")


def crds_waiting(client: KubeClient, names: Sequence[str]) -> str | None:
    """None when every named CRD is Established and NamesAccepted; else which are not, and why."""
    problems = []
    for name in names:
        crd = client.get(ObjRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", name))
        verdict = crd_established(crd) if crd is not None else None
        if verdict is None:
            problems.append(f"{name} (not found)")
        elif not verdict:
            problems.append(f"{name} ({verdict.why})")
    return f"CRDs not established: {listing(problems)}" if problems else None


def apply_foundation(client: KubeClient, steps: Plan, clock: Clock, *, crd_timeout: float = 60.0,
                     interval: float = 1.0, on_progress: Progress | None = None) -> None:
    """Phase 1: Namespaces and CRDs, then wait until every CRD is established (kind.md §7.2 a.8)."""
    for obj in steps.foundation:
        _apply_with_retries(client, obj, clock)
    if steps.crds:
        wait_for(lambda: crds_waiting(client, steps.crds), what="CustomResourceDefinitions",
                 timeout=crd_timeout, interval=interval, clock=clock, on_progress=on_progress)


def apply_builtins(client: KubeClient, steps: Plan, clock: Clock) -> None:
    """Phase 2: built-in objects in dependency order, transient failures retried 3x (2/5/10 s)."""
    for obj in steps.builtins:
        _apply_with_retries(client, obj, clock)


def _apply_while_webhooks_wait(
    client: KubeClient, obj: Obj, clock: Clock, start: float, timeout: float, interval: float,
    on_progress: Progress | None, refused: Callable[[ObjRef, ApiError], ApplianceError],
) -> Obj:
    """Apply one object, retried every `interval` (until `timeout` after `start`) while admission
    webhooks do not serve yet or the API server hiccups; any other refusal raises `refused(...)`."""
    ref = ObjRef.of(obj)
    while True:
        try:
            return client.apply([obj])[0]
        except ApiError as exc:
            webhook = any(m in exc.message for m in WEBHOOK_NOT_SERVING)
            if not webhook and not is_transient(exc):
                raise refused(ref, exc) from None
            elapsed = clock.monotonic() - start
            if elapsed >= timeout:
                raise ApplyFailed(ref, exc, f"still refused after {timeout:.0f}s") from None
            if on_progress is not None:
                on_progress(f"{ref}: waiting for its admission webhook ({exc.message})", elapsed)
            clock.sleep(min(interval, timeout - elapsed))


def apply_custom(client: KubeClient, steps: Plan, clock: Clock, *, timeout: float = 120.0,
                 interval: float = 5.0, on_progress: Progress | None = None) -> None:
    """Phase 3: custom resources, retried every `interval` while their admission webhooks do not
    serve yet (KServe's and the manifests' own installs retry the same way)."""
    start = clock.monotonic()  # one budget for the whole phase
    for obj in steps.custom:
        _apply_while_webhooks_wait(client, obj, clock, start, timeout, interval, on_progress, _refused)


def apply_all(client: KubeClient, objects: Sequence[Obj], clock: Clock, *,
              on_progress: Progress | None = None, crd_timeout: float = 60.0,
              custom_timeout: float = 120.0) -> Plan:
    """All three phases in order (the kind/kube targets wait for readiness between 2 and 3)."""
    steps = plan(objects)
    apply_foundation(client, steps, clock, crd_timeout=crd_timeout, on_progress=on_progress)
    apply_builtins(client, steps, clock)
    apply_custom(client, steps, clock, timeout=custom_timeout, on_progress=on_progress)
    return steps


def _namespaces_waiting(client: KubeClient, names: Sequence[str]) -> str | None:
    left = [n for n in names if client.get(ObjRef("v1", "Namespace", n)) is not None]
    return f"namespaces still terminating: {', '.join(left)}" if left else None


def delete_all(client: KubeClient, objects: Sequence[Obj], clock: Clock, *, delete_crds: bool = False,
               timeout: float = 300.0, interval: float = 2.0,
               on_progress: Progress | None = None) -> list[ObjRef]:
    """Delete a bundle's objects in reverse apply order (custom resources first, Namespaces last)
    and wait for its namespaces to be gone; CRDs stay unless asked, since deleting a CRD deletes
    every custom resource of its kind in the cluster, the user's too. Returns what was deleted;
    objects already gone are skipped, so a second run is a no-op."""
    steps = plan(objects)
    ordered = [*reversed(steps.custom), *reversed(steps.builtins), *reversed(steps.foundation)]
    deleted = []
    for obj in ordered:
        if obj.get("kind") == "CustomResourceDefinition" and not delete_crds:
            continue
        ref = ObjRef.of(obj)
        try:
            if client.delete(ref):
                deleted.append(ref)
        except ApiError as exc:
            if exc.status == 404:  # the kind itself is gone (its CRD was deleted first)
                continue
            raise ApplyFailed(ref, exc, action="delete") from None
    namespaces = [str(o["metadata"]["name"]) for o in steps.foundation if o.get("kind") == "Namespace"]
    wait_for(lambda: _namespaces_waiting(client, namespaces), what="namespaces to be deleted",
             timeout=timeout, interval=interval, clock=clock, on_progress=on_progress)
    return deleted


def apply_admitted(client: KubeClient, obj: Obj, clock: Clock, *, timeout: float = 120.0,
                   interval: float = 5.0, on_progress: Progress | None = None) -> Obj:
    """Apply one custom resource, retried every `interval` while its admission webhook does not
    serve yet or the API server hiccups (an engine's Experiment or InferenceService; apply_custom
    does the same for a bundle). Other refusals raise ApplyFailed at once, quoting the server."""
    return _apply_while_webhooks_wait(client, obj, clock, clock.monotonic(), timeout, interval,
                                      on_progress, ApplyFailed)
