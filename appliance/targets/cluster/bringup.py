"""Bringing a profile up on a cluster: the actions the kind and kube targets share, in order.

render + credentials -> connect -> apply Namespaces and CRDs (wait Established) -> apply the rest
-> staged readiness -> admission webhooks serving -> custom resources -> workloads' S3 Secrets ->
port-forwards -> MinIO users per purpose -> bucket.
Every wait goes through the context's Clock; every API call through its KubeClient; the forwards
through a Forwarder. The kind target puts its cluster actions in front of these (kind.md §7.2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.errors import ExternalCommandFailed
from appliance.objectstore import DEFAULT_BUCKET, ObjectStore
from appliance.runtime.state import RunDir
from appliance.targets.actions import Action
from appliance.targets.cluster import apply, readiness
from appliance.targets.cluster.client import KubeClient, ObjRef
from appliance.targets.cluster.object_store import (
    PIPELINES,
    SERVING,
    TUNING,
    USERS,
    AdminNotReady,
    MinioAdminApi,
    admin_client,
    ensure_workload_users,
    object_store,
)
from appliance.targets.cluster.settings import (
    FORWARDED,
    OBJECT_STORE,
    PIPELINES_API,
    ClusterSettings,
    Service,
)
from appliance.targets.cluster.wait import Clock, wait_for
from appliance.targets.interface import UpOptions

Obj = dict[str, Any]
STACK_LABEL = "appliance.dev/stack"
MANAGED_BY = ("app.kubernetes.io/managed-by", "appliance")
WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
DEFAULT_TIMEOUT = 20 * 60.0


class Forwarder(Protocol):
    """Keeps local ports on 127.0.0.1 forwarded to Services, in a background process that survives
    pod restarts (a real one wraps `kubectl port-forward`; tests route to in-process servers)."""

    def start(self, run_dir: Path, settings: ClusterSettings,
              services: Mapping[str, Service], ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        """Start forwarding; returns the supervisor's pid and the local port of each service."""
        ...

    def stop(self, run_dir: Path, pid: int) -> None: ...

    def alive(self, run_dir: Path, pid: int) -> bool: ...


def create_bucket(store: ObjectStore) -> str | None:
    """None once the bucket exists (created if needed); else what is still in the way."""
    try:
        client = store.client()
        if not client.bucket_exists(store.bucket):
            client.make_bucket(store.bucket)
    except Exception as exc:  # the forward or MinIO not answering yet: say what, and retry
        return f"object store through {store.endpoint}: {type(exc).__name__}"
    return None


class SupervisedForwarder:
    """The real Forwarder: `python -m appliance.targets.cluster.forward --run-dir DIR` in the
    background (it keeps a kubectl port-forward per Service on a ready pod and moves it when the pod
    goes), configured through the run dir's forwards.json, found again by its run-dir marker."""

    def start(self, run_dir: Path, settings: ClusterSettings,
              services: Mapping[str, Service], ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        from appliance.runtime import process
        from appliance.targets.cluster import forward

        chosen = forward.choose_ports(sorted(services), ports)
        specs = [forward.ForwardSpec(name, s.namespace, s.name, s.port, chosen[name])
                 for name, s in sorted(services.items())]
        forward.write_config(run_dir, settings.kubeconfig, settings.context, specs)
        pid = process.spawn(forward.command(run_dir), run_dir / "logs" / "forwarder.log")
        return pid, chosen

    def stop(self, run_dir: Path, pid: int) -> None:
        from appliance.runtime import process

        process.stop(pid, str(run_dir))

    def alive(self, run_dir: Path, pid: int) -> bool:
        from appliance.runtime import process

        return process.is_alive(pid, str(run_dir))


@dataclass
class ClusterUp:
    """What the actions of one `up` share."""

    name: str
    profile: Profile
    options: UpOptions
    run_dir: RunDir
    console: Console
    settings: ClusterSettings
    connect: Callable[[ClusterSettings], KubeClient]
    clock: Clock
    forwarder: Forwarder
    render: Callable[[Profile], Any]  # -> render.Bundle
    started: float = field(default_factory=time.monotonic)
    bucket: Callable[[ObjectStore], str | None] = create_bucket
    admin: Callable[[ObjectStore], MinioAdminApi] = admin_client
    client: KubeClient | None = None
    bundle: Any = None
    objects: list[Obj] = field(default_factory=list)
    credentials: dict[str, str] = field(default_factory=dict)
    plan: apply.Plan | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> KubeClient:
        if self.client is None:
            self.client = self.connect(self.settings)
        return self.client

    def left(self, cap: float) -> float:
        """A step's timeout: its own cap, bounded by what is left of --timeout."""
        total = self.options.timeout or DEFAULT_TIMEOUT
        remaining = total - (self.clock.monotonic() - self.started)
        if remaining <= 0:
            raise ExternalCommandFailed("appliance up", "", f"--timeout of {total:.0f}s used up",
                                        "raise --timeout, or see 'appliance diagnose'")
        return min(cap, remaining)

    def progress(self, text: str, elapsed: float) -> None:
        self.console.progress(f"  … {elapsed:.0f}s: {text}")


def label_for_stack(objects: list[Obj], stack: str) -> list[Obj]:
    """Every object carries the stack and the manager: `down` on an existing cluster deletes by them,
    and `up` refuses namespaces that carry another owner."""
    for obj in objects:
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels[STACK_LABEL] = stack
        labels[MANAGED_BY[0]] = MANAGED_BY[1]
    return objects


def owned(objects: list[Obj]) -> dict[str, Any]:
    """The namespaces and Deployments of the applied bundle (ClusterSettings fields): what status
    checks, diagnostics collect and the kube target's down waits for."""
    namespaces = sorted({str(o["metadata"]["name"]) for o in objects if o.get("kind") == "Namespace"})
    deployments = sorted(f"{o['metadata'].get('namespace')}/{o['metadata']['name']}"
                         for o in objects if o.get("kind") == "Deployment")
    return {"namespaces": tuple(namespaces), "deployments": tuple(deployments)}


def render(ctx: ClusterUp) -> None:
    from appliance.render.install import materialize, random_token
    from appliance.targets.cluster.object_store import with_workload_secrets

    ctx.bundle = ctx.render(ctx.profile)
    known = ctx.run_dir.load_credentials() if ctx.run_dir.credentials_file.exists() else {}
    materialized = materialize(ctx.bundle.objects, known)
    # The workload users' secrets: no rendered object holds them (the bring-up applies them).
    ctx.credentials = with_workload_secrets(materialized.values, random_token)
    ctx.run_dir.save_credentials(ctx.credentials)  # 0600; never on a command line or in logs
    ctx.objects = label_for_stack(materialized.objects, ctx.name)


def apply_foundation(ctx: ClusterUp) -> None:
    ctx.plan = apply.plan(ctx.objects)
    apply.apply_foundation(ctx.api, ctx.plan, ctx.clock, crd_timeout=ctx.left(60.0),
                           on_progress=ctx.progress)


def apply_builtins(ctx: ClusterUp) -> None:
    assert ctx.plan is not None
    apply.apply_builtins(ctx.api, ctx.plan, ctx.clock)


def wait_ready(ctx: ClusterUp) -> None:
    # What the target knows of the machine (kind: Docker's memory and CPUs) sharpens the hints.
    readiness.wait_stages(ctx.api, readiness.stages_for(ctx.objects), ctx.clock,
                          overall=ctx.left(readiness.OVERALL_TIMEOUT), on_progress=ctx.progress,
                          context=ctx.extra.get("hints"))
    ctx.console.end_progress()


def webhook_configs(objects: list[Obj]) -> list[ObjRef]:
    return [ObjRef.of(o) for o in objects if o.get("kind") in WEBHOOK_KINDS]


def wait_webhooks(ctx: ClusterUp) -> None:
    readiness.wait_webhooks(ctx.api, webhook_configs(ctx.objects), ctx.clock, timeout=ctx.left(120.0),
                            on_progress=ctx.progress)
    ctx.console.end_progress()


def apply_custom(ctx: ClusterUp) -> None:
    assert ctx.plan is not None
    apply.apply_custom(ctx.api, ctx.plan, ctx.clock, timeout=ctx.left(120.0), on_progress=ctx.progress)
    ctx.console.end_progress()


def apply_workload_access(ctx: ClusterUp) -> None:
    """Each workload reads s3:// with its own MinIO user's keys (object_store.WORKLOAD_USERS), never
    the root credentials: trials and predictors through Secrets (and the predictors'
    ServiceAccount) in the workload namespace, pipeline steps through a Secret in KFP's namespace.
    Each part is skipped when the profile lacks its namespace. The users themselves are created
    once the forward is up (ensure_users); nothing reads these Secrets before `up` returns."""
    from appliance.targets.cluster.workloads import pipeline_step_secret, workload_objects

    namespaces = {str(o["metadata"]["name"]) for o in ctx.objects if o.get("kind") == "Namespace"}
    labels = {STACK_LABEL: ctx.name}
    objects = []
    if ctx.settings.workload_namespace in namespaces:
        objects += workload_objects(USERS[TUNING].keys(ctx.credentials), USERS[SERVING].keys(ctx.credentials),
                                    namespace=ctx.settings.workload_namespace, labels=labels)
    if PIPELINES_API in forwarded_services(ctx.objects):
        # Single-user KFP runs every step in its own namespace (pipelines.KFP_NAMESPACE).
        objects.append(pipeline_step_secret(USERS[PIPELINES].keys(ctx.credentials),
                                            FORWARDED[PIPELINES_API].namespace, labels))
    if objects:
        ctx.api.apply(objects)
        ctx.objects.extend(objects)


def forwarded_services(objects: list[Obj]) -> dict[str, Service]:
    """The forwards this bundle can have: each service it renders (MinIO always, KFP with pipelines)."""
    present = {(str((o.get("metadata") or {}).get("namespace")), str((o.get("metadata") or {}).get("name")))
               for o in objects if o.get("kind") == "Service"}
    return {name: service for name, service in FORWARDED.items()
            if (service.namespace, service.name) in present}


def start_forwards(ctx: ClusterUp) -> None:
    wanted = dict(ctx.settings.ports)
    if ctx.options.port is not None:
        wanted[OBJECT_STORE] = ctx.options.port
    pid, ports = ctx.forwarder.start(ctx.run_dir.path, ctx.settings, forwarded_services(ctx.objects), wanted)
    ctx.settings = ClusterSettings(**{**ctx.settings.__dict__, "ports": ports, "forwarder_pid": pid})


def stop_forwards(ctx: ClusterUp) -> None:
    if ctx.settings.forwarder_pid:
        ctx.forwarder.stop(ctx.run_dir.path, ctx.settings.forwarder_pid)


def ensure_users(ctx: ClusterUp) -> None:
    """The MinIO user and policy of each workload purpose, through the admin API over the forward
    with the root credentials, retried while MinIO is not answering yet (the forward just started,
    or MinIO answers 503 while it initializes). Any other refusal fails at once."""
    admin = ctx.admin(object_store(ctx.settings, ctx.credentials))

    def attempt() -> str | None:
        try:
            ensure_workload_users(admin, ctx.credentials)
        except AdminNotReady as exc:
            return exc.why
        return None

    wait_for(attempt, what="MinIO's admin API", timeout=ctx.left(60.0), interval=2.0, clock=ctx.clock,
             on_progress=ctx.progress)
    ctx.console.end_progress()


def ensure_bucket(ctx: ClusterUp) -> None:
    store = object_store(ctx.settings, ctx.credentials)
    wait_for(lambda: ctx.bucket(store), what=f"bucket {DEFAULT_BUCKET}", timeout=ctx.left(60.0),
             interval=2.0, clock=ctx.clock, on_progress=ctx.progress)


def stack_actions() -> list[Action[ClusterUp]]:
    """The actions after the cluster exists and is reachable (kind.md §7.2 actions 8-15, with
    the MinIO users per purpose before the bucket)."""
    return [
        Action("apply: namespaces and CRDs (established)", apply_foundation),
        Action("apply: workloads, RBAC, config, network policies", apply_builtins),
        Action("components ready (data stores, then services)", wait_ready),
        Action("admission webhooks serving", wait_webhooks),
        Action("apply: custom resources", apply_custom),
        Action("workload access: an S3 Secret per purpose, the model ServiceAccount", apply_workload_access),
        Action("port-forwards on 127.0.0.1", start_forwards, stop_forwards),
        Action("object store users: pipelines, tuning, serving", ensure_users),
        Action(f"bucket {DEFAULT_BUCKET}", ensure_bucket),
    ]
