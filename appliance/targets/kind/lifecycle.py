"""The kind target: one kind cluster per stack, the hardened profile applied to it, forwards on 127.0.0.1.

`up` is an ordered list of small actions (appliance/targets/actions.py), undone in reverse when one
fails unless --retain: preflight, render and credentials, the stubs image, the cluster (pinned kind
node image; kubeconfig in the run dir, 0600), kindnet's CPU limit, node inotify limits, image
preload, then the shared cluster actions (appliance/targets/cluster/bringup.py). Every external
command goes through the CommandRunner seam, every API call through KubeClient, every wait through
a Clock: tests run the whole sequence against fakes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance import paths
from appliance.config.profile import COMPONENTS, Profile
from appliance.console import Console
from appliance.doctor import Check
from appliance.errors import ApplianceError, BadInput, MissingPrerequisite
from appliance.objectstore import ObjectStore
from appliance.runtime import process
from appliance.runtime.locks import remove_stack_lock, stack_lock
from appliance.runtime.process import CommandRunner
from appliance.runtime.state import RunDir, StackState
from appliance.stack import Engines, Stack
from appliance.targets.actions import Action, execute
from appliance.targets.cluster import bringup
from appliance.targets.cluster import stacks as cluster_stacks
from appliance.targets.cluster.bringup import ClusterUp, SupervisedForwarder
from appliance.targets.cluster.client import KubeClient, ObjRef
from appliance.targets.cluster.diagnosis import HintContext
from appliance.targets.cluster.engines import cluster_engines
from appliance.targets.cluster.object_store import MinioAdminApi, admin_client
from appliance.targets.cluster.settings import ClusterSettings
from appliance.targets.cluster.wait import Clock, SystemClock, wait_for
from appliance.targets.interface import ComponentStatus, StackStatus, UpOptions
from appliance.targets.kind import config as kind_config
from appliance.targets.kind import preflight as checks
from appliance.targets.kind.cluster import KindCluster, cluster_name, context_name
from appliance.targets.kind.preload import Preloader
from appliance.targets.kind.versions import CPUS_REFUSE_BELOW, DEFAULT, MEMORY_WARN_BELOW

STUBS_IMAGE = "appliance-stubs:dev"
# Until the cluster engines are wired (issue 14), a kind stack serves its object store only.
ENGINES = cluster_engines()


def official_client(settings: ClusterSettings, run_dir: Path | None = None) -> KubeClient:
    from appliance.targets.cluster.official import OfficialClient

    cache = (run_dir or settings.kubeconfig.parent) / "discovery-cache.json"
    return OfficialClient.from_kubeconfig(settings.kubeconfig, settings.context, cache)


def render_profile(profile: Profile) -> Any:
    from appliance.render import render_profile as render

    return render(str(profile.source))


class KindTarget:
    name = "kind"

    def __init__(
        self,
        runner: CommandRunner | None = None,
        connect: Callable[[ClusterSettings], KubeClient] = official_client,
        clock: Clock | None = None,
        forwarder: bringup.Forwarder | None = None,
        render: Callable[[Profile], Any] = render_profile,
        engines: Engines = ENGINES,
        bucket: Callable[[ObjectStore], str | None] = bringup.create_bucket,
        admin: Callable[[ObjectStore], MinioAdminApi] = admin_client,
        which: Callable[[str], str | None] = shutil.which,
        disk_free: Callable[[Path], int] = checks.free_bytes,
        probe: cluster_stacks.Probe = cluster_stacks.probe_forward,
    ) -> None:
        self.runner = runner or CommandRunner()
        self.connect = connect
        self.clock = clock or SystemClock()
        self.forwarder = forwarder or SupervisedForwarder()
        self.render = render
        self.engines = engines
        self.bucket = bucket
        self.admin = admin
        self.which = which
        self.disk_free = disk_free
        self.probe = probe

    # --- what the machine needs -------------------------------------------------------------

    def preflight(self, profile: Profile | None = None, options: UpOptions | None = None) -> list[Check]:
        components = profile.components if profile is not None else COMPONENTS
        node_image = (options.node_image if options is not None else None) or DEFAULT.node_image
        return checks.kind_preflight(self.runner, components, node_image, self.which, self.disk_free)

    # --- up -----------------------------------------------------------------------------------

    def up(self, name: str, profile: Profile, options: UpOptions, console: Console) -> StackStatus:
        run_dir = RunDir(name)
        cluster = KindCluster(self.runner, cluster_name(name), run_dir.path)
        with stack_lock(name):
            existing = run_dir.load()
            if existing is not None:
                return self._already_up(existing, profile, options, console)
            node_image = options.node_image or DEFAULT.node_image
            checks.require(self.preflight(profile, options), "kind")
            if cluster.exists():
                raise BadInput(
                    f"a kind cluster {cluster.name!r} exists but stack {name!r} has no state",
                    "an earlier up was interrupted, or its state was removed",
                    f"run 'appliance down --name {name}' (it deletes the cluster), then up again",
                )
            run_dir.create()
            settings = ClusterSettings(kubeconfig=cluster.kubeconfig, context=context_name(cluster.name),
                                       cluster=cluster.name, stubs_image=options.stubs_image or STUBS_IMAGE)
            state = StackState(name, self.name, profile.name, time.time(),
                               profile_document=profile.to_document(), profile_source=str(profile.source),
                               settings=settings.to_dict())
            run_dir.save(state)  # first: an interrupted up leaves what `down` needs to clean up
            ctx = ClusterUp(name, profile, options, run_dir, console, settings, self.connect, self.clock,
                            self.forwarder, self.render, started=self.clock.monotonic(), bucket=self.bucket,
                            admin=self.admin)
            ctx.extra.update(cluster=cluster, node_image=node_image)
            try:
                execute(self.actions(), ctx, console, retain=options.retain,
                        on_failure=lambda exc: self._diagnose_failure(ctx, exc))
            except BaseException:
                if not options.retain:
                    run_dir.remove()
                    remove_stack_lock(name)
                raise
            state.settings = ctx.settings.__class__(
                **{**ctx.settings.__dict__, **bringup.owned(ctx.objects)}).to_dict()
            run_dir.save(state)
        status = self.status(name)
        assert status is not None
        return status

    def actions(self) -> list[Action[ClusterUp]]:
        return [
            Action("render the profile (hardened) and generate credentials", bringup.render),
            Action("stubs image present", self._stubs_image),
            Action("kind cluster (pinned node image)", self._create_cluster, self._delete_cluster),
            Action("node Ready, CoreDNS available", self._node_ready),
            Action("kindnet without its CPU limit", self._kindnet),
            Action("node inotify limits", self._inotify),
            Action("images preloaded into the node", self._preload),
            *bringup.stack_actions(),
        ]

    def _already_up(self, existing: StackState, profile: Profile, options: UpOptions,
                    console: Console) -> StackStatus:
        return cluster_stacks.already_up(existing, profile, options, console, self.status, self.name)

    # --- kind-specific actions --------------------------------------------------------------

    def _stubs_image(self, ctx: ClusterUp) -> None:
        image = ctx.settings.stubs_image
        found = self.runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", image],
                                timeout=30, check=False)
        if found.returncode != 0:
            raise MissingPrerequisite(
                f"the stubs image {image} is not in Docker",
                "pipeline steps, trials and predictors run on it; it is built from stubs/Dockerfile",
                "build it with 'make image' in a checkout (or pass --stubs-image REF of one you built)",
            )

    def _create_cluster(self, ctx: ClusterUp) -> None:
        cluster: KindCluster = ctx.extra["cluster"]
        config = kind_config.write(ctx.run_dir.path, cluster.name, ctx.extra["node_image"],
                                   dict(ctx.options.registry_cache) or None)
        created = cluster.create(config, retain=ctx.options.retain)
        if not created.node_ready:
            ctx.console.info("  kind's own wait for the node timed out; checking the node directly")

    def _delete_cluster(self, ctx: ClusterUp) -> None:
        cluster: KindCluster = ctx.extra["cluster"]
        cluster.delete()

    def _node_ready(self, ctx: ClusterUp) -> None:
        def waiting() -> str | None:
            nodes = ctx.api.list("v1", "Node")
            ready = [n for n in nodes if any(c.get("type") == "Ready" and c.get("status") == "True"
                                            for c in (n.get("status") or {}).get("conditions") or [])]
            if not ready:
                return "node not Ready"
            dns = ctx.api.get(ObjRef("apps/v1", "Deployment", "coredns", "kube-system"))
            from appliance.targets.cluster.readiness import deployment_ready

            if dns is None or not deployment_ready(dns):
                return "CoreDNS not available"
            return None

        wait_for(waiting, what="the kind node", timeout=ctx.left(240.0), interval=2.0, clock=ctx.clock,
                 on_progress=ctx.progress)

    def _kindnet(self, ctx: ClusterUp) -> None:
        # kindnet's 100m CPU limit throttles its NetworkPolicy path and drops Service connections
        # under load (kubeflow/pipelines#13739); KFP's CI removes it. A failure only warns.
        argv = kindnet_patch_argv(ctx.settings)
        result = self.runner.run(argv, timeout=60, check=False)
        if result.returncode != 0:
            first = (result.output.strip().splitlines() or ["no output"])[-1]
            ctx.console.info(f"  warning: kindnet's CPU limit was kept ({first[:200]})")

    def _inotify(self, ctx: ClusterUp) -> None:
        cluster: KindCluster = ctx.extra["cluster"]
        verdict = checks.inotify_check(self.runner.run(checks.inotify_argv(cluster.node), timeout=10,
                                                       check=False))
        if not verdict.ok:
            ctx.console.info(f"  warning: {verdict.name}: {verdict.detail} (fix: {verdict.fix})")

    def _preload(self, ctx: ClusterUp) -> None:
        cluster: KindCluster = ctx.extra["cluster"]
        facts = checks.parse_docker_info(self.runner.run(checks.docker_info_argv(), timeout=15, check=False))
        arch = facts.arch if isinstance(facts, checks.DockerInfo) and facts.arch else "amd64"
        if isinstance(facts, checks.DockerInfo):
            ctx.extra["hints"] = HintContext(profile=ctx.profile.name, docker_memory=facts.mem_total,
                                             required_memory=MEMORY_WARN_BELOW, docker_cpus=facts.ncpu,
                                             required_cpus=CPUS_REFUSE_BELOW)
        images = sorted({*ctx.bundle.images(), ctx.settings.stubs_image})
        report = Preloader(self.runner, cluster, arch, paths.cache() / "images",
                           progress=lambda message: ctx.console.progress(f"  … {message}")).run(images)
        ctx.console.end_progress()
        ctx.console.info(f"  {len(report.preloaded)} images in the node; {len(report.by_digest)} pinned by "
                         "digest are pulled by the node itself")

    def _diagnose_failure(self, ctx: ClusterUp, failure: BaseException) -> None:
        if isinstance(failure, (KeyboardInterrupt, MissingPrerequisite)) or ctx.client is None:
            return  # nothing on a cluster to explain yet (or the user stopped it)
        out_dir = paths.diagnostics_dir(ctx.name)
        cluster: KindCluster = ctx.extra["cluster"]
        settings = ClusterSettings(**{**ctx.settings.__dict__, **bringup.owned(ctx.objects)})
        state = ctx.run_dir.load()
        if state is not None:
            state.settings = settings.to_dict()
            ctx.run_dir.save(state)
        cluster_stacks.collect(ctx.name, out_dir, self.connect, extra={"kind-logs": _export_logs(cluster)})
        ctx.console.info(f"diagnostics written to {out_dir} (appliance diagnose writes them again)")

    # --- status, stack, down, diagnostics -------------------------------------------------------

    def status(self, name: str) -> StackStatus | None:
        state = RunDir(name).load()
        if state is None:
            return None
        cluster = KindCluster(self.runner, cluster_name(name), RunDir(name).path)
        try:
            exists = cluster.exists()
            node = ComponentStatus("kind-cluster", cluster.name, exists, "running" if exists else "not found")
        except ApplianceError as exc:
            node = ComponentStatus("kind-cluster", cluster.name, False, exc.what)
        return cluster_stacks.stack_status(name, self.connect, self._forwarder_alive(name), [node],
                                           self.probe)

    def _forwarder_alive(self, name: str) -> Callable[[int], bool]:
        return lambda pid: self.forwarder.alive(RunDir(name).path, pid)

    def stack(self, name: str) -> Stack:
        return cluster_stacks.stack_of(name, self.name, self.engines)

    def down(self, name: str, console: Console, delete_crds: bool = False) -> bool:
        run_dir = RunDir(name)
        cluster = KindCluster(self.runner, cluster_name(name), run_dir.path)
        with stack_lock(name):
            try:
                state = run_dir.load()
            except BadInput as exc:
                console.info(f"warning: {exc.what}; deleting by name")
                state = None
            pid = 0
            if state is not None and state.settings:
                try:
                    pid = cluster_stacks.settings_of(state).forwarder_pid
                except BadInput:
                    pid = 0
            for stray in sorted({pid, *process.marked_pids(str(run_dir.path))} - {0}):
                process.stop(stray, str(run_dir.path))
            existed = cluster.delete()
            had_state = run_dir.exists()
            run_dir.remove()
            remove_stack_lock(name)
            return existed or had_state

    def collect_diagnostics(self, name: str, out_dir: Path) -> list[Path]:
        cluster = KindCluster(self.runner, cluster_name(name), RunDir(name).path)
        return cluster_stacks.collect(name, out_dir, self.connect, extra={"kind-logs": _export_logs(cluster)})


def _export_logs(cluster: KindCluster) -> Callable[[Path], None]:
    def export(out_dir: Path) -> None:
        cluster.export_logs(out_dir)  # `kind export logs`: node journal, kubelet, containerd, pods

    return export


def kindnet_patch_argv(settings: ClusterSettings) -> list[str]:
    """Drop the CPU limit of kindnet's container (a JSON patch: server-side apply cannot remove a
    field another manager owns)."""
    patch = '[{"op":"remove","path":"/spec/template/spec/containers/0/resources/limits/cpu"}]'
    return ["kubectl", "--kubeconfig", str(settings.kubeconfig), "--context", settings.context,
            "-n", "kube-system", "patch", "daemonset", "kindnet", "--type=json", "-p", patch]
