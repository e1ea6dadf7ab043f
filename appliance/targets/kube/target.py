"""The kube target: the hardened profile on an existing cluster, named by a kubeconfig context.

The same actions as kind after the cluster exists (appliance/targets/cluster/bringup.py), plus
checks only an existing cluster needs: the server version, permissions (SelfSubjectAccessReview),
a default StorageClass, and namespace ownership — the appliance refuses to adopt a namespace it
did not create (labels app.kubernetes.io/managed-by=appliance and appliance.dev/stack=<stack>),
so one stack per cluster. `down` deletes what carries the stack's labels, in reverse order, and
waits for its namespaces to go; CRDs stay unless --delete-crds (deleting a CRD deletes every
custom resource of its kind in the cluster).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.doctor import Check
from appliance.errors import ApplianceError, BadInput
from appliance.objectstore import ObjectStore
from appliance.runtime import process
from appliance.runtime.locks import remove_stack_lock, stack_lock
from appliance.runtime.process import CommandRunner
from appliance.runtime.state import RunDir, StackState, write_atomic
from appliance.stack import Engines, Stack
from appliance.targets.actions import Action, execute
from appliance.targets.cluster import apply, bringup
from appliance.targets.cluster import stacks as cluster_stacks
from appliance.targets.cluster.bringup import MANAGED_BY, STACK_LABEL, ClusterUp, SupervisedForwarder
from appliance.targets.cluster.client import KubeClient, ObjRef
from appliance.targets.cluster.engines import cluster_engines
from appliance.targets.cluster.object_store import MinioAdminApi, admin_client
from appliance.targets.cluster.settings import ClusterSettings
from appliance.targets.cluster.wait import Clock, SystemClock
from appliance.targets.interface import StackStatus, UpOptions
from appliance.targets.kind import preflight as checks

MIN_SERVER = (1, 30)
APPLIED_FILE = "applied.json"
# What `up` must be allowed to create (checked with SelfSubjectAccessReview before anything).
PERMISSIONS = (
    ("create", "namespaces", ""),
    ("create", "customresourcedefinitions", "apiextensions.k8s.io"),
    ("create", "clusterroles", "rbac.authorization.k8s.io"),
    ("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
    ("create", "validatingwebhookconfigurations", "admissionregistration.k8s.io"),
    ("create", "mutatingwebhookconfigurations", "admissionregistration.k8s.io"),
)
ENGINES = cluster_engines()


def user_kubeconfig() -> Path:
    """The kubeconfig kubectl would use: the first file of $KUBECONFIG, else ~/.kube/config."""
    configured = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(configured).expanduser() if configured else Path.home() / ".kube" / "config"


def official_client(settings: ClusterSettings, run_dir: Path) -> KubeClient:
    from appliance.targets.cluster.official import OfficialClient

    # The user's kubeconfig is only read: the discovery cache goes in the stack's run dir.
    return OfficialClient.from_kubeconfig(settings.kubeconfig, settings.context,
                                          run_dir / "discovery-cache.json")


def parse_server_version(text: str) -> tuple[int, int] | None:
    digits = text.lstrip("v").split(".")
    try:
        return int(digits[0]), int("".join(ch for ch in digits[1] if ch.isdigit()))
    except (IndexError, ValueError):
        return None


def cluster_checks(client: KubeClient, name: str, namespaces: list[str]) -> list[Check]:
    """What only the API can tell: version, permissions, a default StorageClass, who owns the
    namespaces the bundle would use."""
    found: list[Check] = []
    version = client.server_version()
    parsed = parse_server_version(version)
    found.append(Check("server version", parsed is not None and parsed >= MIN_SERVER, version,
                       f"use a cluster running Kubernetes {MIN_SERVER[0]}.{MIN_SERVER[1]} or newer"))
    denied = [f"{verb} {resource}" for verb, resource, group in PERMISSIONS
              if not client.can_i(verb, resource, group)]
    found.append(Check("permissions", not denied, "cluster-admin rights" if not denied
                       else f"not allowed: {', '.join(denied)}",
                       "use a context with cluster-admin rights (the bundle installs CRDs and webhooks)"))
    classes = client.list("storage.k8s.io/v1", "StorageClass")
    default = [str(c["metadata"]["name"]) for c in classes
               if ((c.get("metadata") or {}).get("annotations") or {}).get(
                   "storageclass.kubernetes.io/is-default-class") == "true"]
    found.append(Check("default StorageClass", bool(default), default[0] if default else "none",
                       "mark one StorageClass default (the MySQL and MinIO volumes need one)"))
    foreign = []
    for namespace in namespaces:
        existing = client.get(ObjRef("v1", "Namespace", namespace))
        if existing is None:
            continue
        labels = (existing.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
            foreign.append(f"{namespace} (not created by the appliance)")
        elif labels.get(STACK_LABEL) != name:
            foreign.append(f"{namespace} (stack {labels.get(STACK_LABEL)!r})")
    found.append(Check("namespaces", not foreign, "free or this stack's" if not foreign
                       else f"owned by others: {', '.join(foreign)}",
                       "use a cluster without these namespaces (the appliance never adopts foreign ones; "
                       "one stack per cluster)"))
    return found


class KubeTarget:
    name = "kube"

    def __init__(
        self,
        runner: CommandRunner | None = None,
        connect: Callable[[ClusterSettings, Path], KubeClient] = official_client,
        clock: Clock | None = None,
        forwarder: bringup.Forwarder | None = None,
        render: Callable[[Profile], Any] | None = None,
        engines: Engines = ENGINES,
        bucket: Callable[[ObjectStore], str | None] = bringup.create_bucket,
        admin: Callable[[ObjectStore], MinioAdminApi] = admin_client,
        which: Callable[[str], str | None] = shutil.which,
        probe: cluster_stacks.Probe = cluster_stacks.probe_forward,
    ) -> None:
        from appliance.targets.kind.lifecycle import render_profile

        self.runner = runner or CommandRunner()
        self._connect = connect
        self.clock = clock or SystemClock()
        self.forwarder = forwarder or SupervisedForwarder()
        self.render = render or render_profile
        self.engines = engines
        self.bucket = bucket
        self.admin = admin
        self.which = which
        self.probe = probe

    def connect_for(self, name: str) -> Callable[[ClusterSettings], KubeClient]:
        return lambda settings: self._connect(settings, RunDir(name).path)

    def preflight(self, profile: Profile | None = None, options: UpOptions | None = None) -> list[Check]:
        context = options.context if options is not None else None
        found = []
        if not context:
            found.append(Check("kube context", False, "no --context given",
                               "pass --context NAME (see 'kubectl config get-contexts')"))
        # Asked of `up` (which names a profile), not of `doctor`: the image is the user's choice.
        if profile is not None and options is not None and not options.stubs_image:
            found.append(Check("stubs image", False, "no --stubs-image given",
                               "build stubs/Dockerfile (make image), push it where the cluster can pull it, "
                               "and pass --stubs-image REF"))
        if context:
            found += checks.kube_preflight(self.runner, context, user_kubeconfig(), self.which)
        return found

    def up(self, name: str, profile: Profile, options: UpOptions, console: Console) -> StackStatus:
        run_dir = RunDir(name)
        with stack_lock(name):
            existing = run_dir.load()
            if existing is not None:
                return self._already_up(existing, profile, options, console)
            checks.require(self.preflight(profile, options), "kube")
            assert options.context is not None and options.stubs_image is not None
            run_dir.create()
            settings = ClusterSettings(kubeconfig=user_kubeconfig(), context=options.context,
                                       stubs_image=options.stubs_image)
            state = StackState(name, self.name, profile.name, time.time(),
                               profile_document=profile.to_document(), profile_source=str(profile.source),
                               settings=settings.to_dict())
            run_dir.save(state)
            ctx = ClusterUp(name, profile, options, run_dir, console, settings, self.connect_for(name),
                            self.clock, self.forwarder, self.render, started=self.clock.monotonic(),
                            bucket=self.bucket, admin=self.admin)
            actions = [
                Action("render the profile (hardened) and generate credentials", self._render),
                Action("cluster: version, permissions, default StorageClass, namespace ownership",
                       self._check_cluster),
                *bringup.stack_actions(),
            ]
            try:
                execute(actions, ctx, console, retain=options.retain)
            except BaseException:
                if not options.retain:
                    self._cleanup_failed(ctx, console)
                raise
            owned = bringup.owned(ctx.objects)
            state.settings = ClusterSettings(**{**ctx.settings.__dict__, **owned}).to_dict()
            run_dir.save(state)
        status = self.status(name)
        assert status is not None
        return status

    def _render(self, ctx: ClusterUp) -> None:
        bringup.render(ctx)
        # What down deletes later, written before anything is applied: a failed up is cleaned too.
        refs = [{"apiVersion": o["apiVersion"], "kind": o["kind"],
                 "metadata": {k: v for k, v in o["metadata"].items() if k in ("name", "namespace")}}
                for o in ctx.objects]
        write_atomic(ctx.run_dir.path / APPLIED_FILE, json.dumps(refs, indent=1) + "\n")

    def _check_cluster(self, ctx: ClusterUp) -> None:
        namespaces = [str(o["metadata"]["name"]) for o in ctx.objects if o.get("kind") == "Namespace"]
        checks.require(cluster_checks(ctx.api, ctx.name, namespaces), "kube")

    def _cleanup_failed(self, ctx: ClusterUp, console: Console) -> None:
        try:
            self._delete_applied(ctx.name, ctx.api, console, delete_crds=False)
        except ApplianceError as exc:
            console.info(f"warning: cleaning up the failed up: {exc.what}; "
                         f"'appliance down --name {ctx.name}' tries again")
            return
        ctx.run_dir.remove()
        remove_stack_lock(ctx.name)

    def _already_up(self, existing: StackState, profile: Profile, options: UpOptions,
                    console: Console) -> StackStatus:
        return cluster_stacks.already_up(existing, profile, options, console, self.status, self.name)

    # --- status, stack, down, diagnostics -------------------------------------------------------

    def status(self, name: str) -> StackStatus | None:
        return cluster_stacks.stack_status(
            name, self.connect_for(name), lambda pid: self.forwarder.alive(RunDir(name).path, pid),
            probe=self.probe)

    def stack(self, name: str) -> Stack:
        return cluster_stacks.stack_of(name, self.name, self.engines)

    def down(self, name: str, console: Console, delete_crds: bool = False) -> bool:
        run_dir = RunDir(name)
        with stack_lock(name):
            try:
                state = run_dir.load()
            except BadInput as exc:
                console.info(f"warning: {exc.what}")
                state = None
            # The stack's local processes first (forwards, registry followers), found by the run dir
            # on their command lines: a follower must not deploy again what is being deleted.
            for stray in process.marked_pids(str(run_dir.path)):
                process.stop(stray, str(run_dir.path))
            if state is None:
                if run_dir.exists():
                    console.info(f"warning: stack {name!r} has no readable state; stopping its processes "
                                 "only (delete its namespaces by their appliance.dev/stack label)")
                existed = run_dir.exists()
            else:
                settings = cluster_stacks.settings_of(state)
                if settings.forwarder_pid:
                    self.forwarder.stop(run_dir.path, settings.forwarder_pid)
                self._delete_applied(name, self.connect_for(name)(settings), console, delete_crds)
                existed = True
            run_dir.remove()
            remove_stack_lock(name)
            return existed

    def _delete_applied(self, name: str, client: KubeClient, console: Console, delete_crds: bool) -> None:
        path = RunDir(name).path / APPLIED_FILE
        if not path.is_file():
            return
        # Only what carries this stack's label is deleted: an object that was there before (a
        # foreign namespace a failed up refused to adopt) is never touched.
        objects = [o for o in json.loads(path.read_text()) if _ours(client, o, name)]
        def progress(text: str, elapsed: float) -> None:
            console.progress(f"  … {elapsed:.0f}s: {text}")

        deleted = apply.delete_all(client, objects, self.clock, delete_crds=delete_crds, on_progress=progress)
        console.end_progress()
        kept = "" if delete_crds else " (CRDs kept: --delete-crds removes them)"
        console.info(f"deleted {len(deleted)} objects of stack {name!r}{kept}")

    def collect_diagnostics(self, name: str, out_dir: Path) -> list[Path]:
        return cluster_stacks.collect(name, out_dir, self.connect_for(name))


def _ours(client: KubeClient, ref_obj: dict[str, Any], stack: str) -> bool:
    from appliance.targets.cluster.client import ApiError

    try:
        found = client.get(ObjRef.of(ref_obj))
    except ApiError:  # its kind is gone (a CRD deleted): nothing to delete
        return False
    labels = ((found or {}).get("metadata") or {}).get("labels") or {}
    return found is not None and labels.get(STACK_LABEL) == stack
