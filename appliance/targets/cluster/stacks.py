"""What the kind and kube targets do alike once a stack is up: report it, hand out its Stack, and
collect its diagnostics. Their differences (creating/deleting a cluster, adopting one) live in
each target."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.errors import ApplianceError, BadInput
from appliance.objectstore import ObjectStore
from appliance.runtime.state import RunDir, StackState
from appliance.stack import Engines, Stack
from appliance.stacks import profile_of
from appliance.targets.cluster import diagnostics, readiness
from appliance.targets.cluster.client import KubeClient, ObjRef
from appliance.targets.cluster.followers import ROLE as FOLLOWER_ROLE
from appliance.targets.cluster.followers import ProcessFollowers
from appliance.targets.cluster.object_store import object_store
from appliance.targets.cluster.settings import OBJECT_STORE, PIPELINES_API, ClusterSettings
from appliance.targets.interface import ComponentStatus, StackStatus, UpOptions

Connect = Callable[[ClusterSettings], KubeClient]
# How each forward is probed: the object store with a signed request, the KFP API's health URL.
HEALTH_PATHS = {PIPELINES_API: "/apis/v2beta1/healthz"}


def settings_of(state: StackState) -> ClusterSettings:
    return ClusterSettings.from_dict(state.settings, str(RunDir(state.name).state_file))


def require_state(name: str) -> StackState:
    state = RunDir(name).load()
    if state is None:
        raise BadInput(f"no stack named {name!r} is up", "", f"run 'appliance up --name {name}' first")
    return state


def stack_of(name: str, target: str, engines: Engines) -> Stack:
    state = require_state(name)
    settings = settings_of(state)
    credentials = RunDir(name).load_credentials()
    return Stack(name, target, profile_of(state), object_store(settings, credentials),
                 RunDir(name).path, engines, {"KUBECONFIG": str(settings.kubeconfig)})


def already_up(existing: StackState, profile: Profile, options: UpOptions, console: Console,
               status: Callable[[str], StackStatus | None], target: str) -> StackStatus:
    """A second `up` of a cluster stack: the same request on a healthy stack reports it; another
    profile, port or context, or an unhealthy stack, is an error (exit 2) saying what to do."""
    settings = settings_of(existing)
    conflicts = []
    if existing.profile_document not in (None, profile.to_document()):
        conflicts.append(f"profile {existing.profile!r} (asked: {profile.name!r})")
    current_port = settings.ports.get(OBJECT_STORE)
    if options.port is not None and current_port != options.port:
        conflicts.append(f"object store port {current_port} (asked: {options.port})")
    if options.context and options.context != settings.context:
        conflicts.append(f"context {settings.context!r} (asked: {options.context!r})")
    if conflicts:
        raise BadInput(f"stack {existing.name!r} is already up with {', '.join(conflicts)}",
                       "a running stack is not reconfigured in place",
                       f"run 'appliance down --name {existing.name}' first, or pick another --name")
    current = status(existing.name)
    if current is None or not current.healthy:
        broken = ", ".join(c.name for c in current.components if not c.healthy) if current else "state"
        raise BadInput(f"stack {existing.name!r} exists but is not healthy ({broken})",
                       f"a {target} stack is not repaired in place",
                       f"run 'appliance diagnose --stack {existing.name}', then "
                       f"'appliance down --name {existing.name}' and up again")
    console.ok(f"stack {existing.name!r} already up ({target}, {existing.profile})")
    return current


def probe_http(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    import requests

    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return False, type(exc).__name__
    return (True, "ok") if response.status_code == 200 else (False, f"HTTP {response.status_code}")


def probe_forward(forward: str, url: str, store: ObjectStore) -> tuple[bool, str]:
    """A forward is healthy when its service answers through it: the object store to a signed
    request for its bucket, the KFP API on its health URL."""
    if forward == OBJECT_STORE:
        return store.healthy()
    return probe_http(url + HEALTH_PATHS.get(forward, "/"))


Probe = Callable[[str, str, ObjectStore], tuple[bool, str]]
DEPLOYMENT_ROLE = "serving-deployment"  # an InferenceService (the local target's is a front process)


def component_statuses(state: StackState, connect: Connect, forwarder_alive: Callable[[int], bool],
                       probe: Probe = probe_forward) -> list[ComponentStatus]:
    """The API server, every Deployment the stack runs, and each forward through its local port."""
    settings = settings_of(state)
    out: list[ComponentStatus] = []
    try:
        client = connect(settings)
        version = client.server_version()
        out.append(ComponentStatus("api-server", settings.context, True, f"Kubernetes {version}"))
    except ApplianceError as exc:
        out.append(ComponentStatus("api-server", settings.context, False, exc.what))
        client = None
    for entry in settings.deployments:
        namespace, _, name = entry.partition("/")
        if client is None:
            out.append(ComponentStatus(f"deployment/{entry}", "", False, "API server not reachable"))
            continue
        try:
            found = client.get(ObjRef("apps/v1", "Deployment", name, namespace))
        except ApplianceError as exc:
            out.append(ComponentStatus(f"deployment/{entry}", "", False, exc.what))
            continue
        verdict = (readiness.deployment_ready(found) if found is not None
                   else readiness.Verdict(False, "missing"))
        out.append(ComponentStatus(f"deployment/{entry}", "", bool(verdict),
                                   "ready" if verdict else verdict.why))
    if client is not None:
        out += deployment_statuses(client, settings, RunDir(state.name).path)
    alive = forwarder_alive(settings.forwarder_pid)
    for forward, port in sorted(settings.ports.items()):
        url = f"http://127.0.0.1:{port}"
        if not alive:
            out.append(ComponentStatus(forward, url, False, "port-forwarder not running",
                                       pid=settings.forwarder_pid or None))
            continue
        store = object_store(settings, RunDir(state.name).load_credentials())
        healthy, detail = probe(forward, url, store)
        out.append(ComponentStatus(forward, url, healthy, detail, pid=settings.forwarder_pid or None))
    return out


def deployment_statuses(client: KubeClient, settings: ClusterSettings,
                        run_dir: Path) -> list[ComponentStatus]:
    """Each serving deployment (the appliance's InferenceServices), named as on the local target,
    healthy when KServe says Ready; its endpoint is the forward's URL while one runs."""
    from appliance.targets.cluster.deployment_forwards import ProcessForwards
    from appliance.targets.cluster.serving import ISVC_API, ISVC_KIND, forward_name, isvc_waiting, model_of
    from appliance.targets.cluster.workloads import MANAGED_BY

    try:
        found = client.list(ISVC_API, ISVC_KIND, settings.workload_namespace, dict(MANAGED_BY))
    except ApplianceError as exc:
        return [ComponentStatus("serve", "", False, f"cannot list InferenceServices: {exc.what}")]
    forwards = ProcessForwards(run_dir, settings)
    out = []
    for isvc in sorted(found, key=lambda o: str(o["metadata"]["name"])):
        name, model = str(isvc["metadata"]["name"]), model_of(isvc)
        if model is None:
            continue  # not one of ours (or edited beyond recognition), as `serve list` skips it
        port = forwards.running_port(forward_name(name))
        waiting = isvc_waiting(isvc)
        out.append(ComponentStatus(
            f"serve/{name}", f"http://127.0.0.1:{port}" if port else "", waiting is None,
            "ready" if waiting is None else waiting,
            extra={"role": DEPLOYMENT_ROLE, "deployment": name, **model.to_dict(),
                   "note": f"serves {model.uri} version {model.version}"}))
    return out


def follower_statuses(followers: ProcessFollowers, now: float) -> list[ComponentStatus]:
    """Each registry follower, named and described as the local target shows it."""
    return [ComponentStatus(
        f"serve/{f.model}/follow", f"registry/{f.model}", f.running,
        "running" if f.running else "process not running", f.pid, now - f.started,
        {"role": FOLLOWER_ROLE, "deployment": f.model, "interval": f.interval,
         "note": f"follows the registry champion of {f.model} every {f.interval:g}s"},
    ) for f in followers.all()]


def stack_status(name: str, connect: Connect, forwarder_alive: Callable[[int], bool],
                 extra: list[ComponentStatus] | None = None,
                 probe: Probe = probe_forward) -> StackStatus | None:
    state = RunDir(name).load()
    if state is None:
        return None
    components = [*(extra or []), *component_statuses(state, connect, forwarder_alive, probe),
                  *follower_statuses(ProcessFollowers(RunDir(name).path), time.time())]
    return StackStatus(state.name, state.target, state.profile, time.time() - state.created,
                       tuple(components))


def collect(name: str, out_dir: Path, connect: Connect,
            extra: Mapping[str, diagnostics.Extra] | None = None) -> list[Path]:
    """The diagnostics bundle (events, pods, logs, summary.md) plus the stack's own files."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_dir = RunDir(name)
    copied: list[Path] = []
    for source in (run_dir.state_file, *sorted(run_dir.logs.glob("*.log"))):
        if source.is_file():
            shutil.copyfile(source, out_dir / source.name)
            copied.append(out_dir / source.name)
    state = run_dir.load() if run_dir.state_file.exists() else None
    if state is None:
        collected = diagnostics.collect(_Unreachable(), [], out_dir, extra=extra)
        return copied + collected.files
    settings = settings_of(state)
    try:
        client: KubeClient = connect(settings)
    except ApplianceError as exc:
        client = _Unreachable(exc.what)
    collected = diagnostics.collect(client, list(settings.namespaces), out_dir, extra=extra)
    return copied + collected.files


class _Unreachable:
    """A KubeClient for a cluster that cannot be reached: every call says why."""

    def __init__(self, why: str = "the stack's state is lost") -> None:
        self.why = why

    def __getattr__(self, name: str) -> Any:
        from appliance.targets.cluster.client import NO_RESPONSE, ApiError

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise ApiError(NO_RESPONSE, "Unreachable", self.why)

        return refuse
