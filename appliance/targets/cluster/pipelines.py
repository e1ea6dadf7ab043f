"""The pipelines engine of a cluster stack: compile for the cluster (pipeline_ir), submit through
the KFP API, poll until the run ends, and report it as the same PipelineRun the local engine
returns (kfp_runs), each task's log and outputs read from its pod, or from Argo's archive in the
object store when the pod is gone (log_archive)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.console import Progress
from appliance.pipelines import arguments as args
from appliance.pipelines import loader
from appliance.pipelines.interface import DEFAULT_TIMEOUT
from appliance.pipelines.model import PipelineRun
from appliance.targets.cluster import pipeline_ir
from appliance.targets.cluster.client import ApiError, KubeClient, NotFound
from appliance.targets.cluster.kfp_api import TERMINAL, KfpApi, KfpApiError
from appliance.targets.cluster.kfp_runs import POD_GONE_UNREAD, PodLog, pipeline_run
from appliance.targets.cluster.log_archive import (
    ArchiveUnreadable,
    LogArchive,
    ObjectReader,
    created_of,
    names_match,
    node_names,
    repository,
    workflow_of,
)
from appliance.targets.cluster.wait import Clock, TimedOut, wait_for

if TYPE_CHECKING:
    from appliance.stack import Stack

KFP_NAMESPACE = "kubeflow"  # where KFP (single-user) runs pipeline pods
POLL_INTERVAL = 5.0
EXPERIMENT = "appliance"
LOG_LINES = 2000
# Task details of nodes that never ran a pod: nothing was archived for them.
_NEVER_RAN = frozenset({"SKIPPED", "RUNTIME_STATE_UNSPECIFIED"})


class ClusterPipelinesEngine:
    """Runs pipelines on the cluster's KFP. Every seam is injected: the KFP API, the Kubernetes
    API (pods and their logs), the clock of every wait, where compiled packages are kept, and the
    object store Argo archives step logs in (`archive`; None: archived logs are not looked up)."""

    def __init__(self, api: KfpApi, kube: KubeClient, clock: Clock, work_dir: Path,
                 profile: pipeline_ir.ClusterProfile, *, namespace: str = KFP_NAMESPACE,
                 timeout: float = DEFAULT_TIMEOUT, poll: float = POLL_INTERVAL,
                 progress: Progress | None = None, experiment: str = EXPERIMENT,
                 archive: ObjectReader | None = None) -> None:
        self.api = api
        self.kube = kube
        self.clock = clock
        self.work_dir = work_dir
        self.profile = profile
        self.namespace = namespace
        self.timeout = timeout
        self.poll = poll
        self.progress = progress
        self.experiment = experiment
        self.archive = archive

    def run(
        self,
        pipeline: str | Path | loader.Pipeline,
        arguments: Mapping[str, Any] | None = None,
        *,
        caching: bool = False,
        retries: int | None = None,
        timeout: float | None = None,
        progress: Progress | None = None,
    ) -> PipelineRun:
        loaded = pipeline if isinstance(pipeline, loader.Pipeline) else loader.load(pipeline)
        typed = args.check(loaded, arguments or {})
        submission = uuid.uuid4().hex[:12]
        compiled = pipeline_ir.for_cluster(loaded.spec, self.profile, submission, caching=caching,
                                           retries=retries)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        package = self.work_dir / f"{loaded.name}-{submission}.yaml"
        package.write_text(compiled.document(), encoding="utf-8")
        started = self.clock.monotonic()
        run_id = self.api.submit(package, typed, run_name=f"{loaded.name} {submission}",
                                 experiment=self.experiment, caching=caching)
        lines = [f"submitted {loaded.name} as KFP run {run_id} (experiment {self.experiment})"]
        report = progress or self.progress
        tasks = set(pipeline_ir.task_places(loaded.spec))
        finished = self._wait(loaded.name, run_id, tasks,
                              timeout if timeout is not None else self.timeout, report)
        lines.append(f"KFP run {run_id} ended {finished.get('state')}")
        pods = self._pods(submission)
        pods, archived, notes = self._archived(finished, tasks, pods)
        notes = [*compiled.warnings, *notes]
        unreported = sorted(tasks - compiled.reporting)
        if unreported:
            notes.append(f"outputs of {', '.join(unreported)} are not reported: container components "
                         "print no executor output, and KFP's run API does not return outputs")
        root = str((finished.get("runtime_config") or {}).get("pipeline_root") or
                   f"{pipeline_ir.DEFAULT_PIPELINE_ROOT}/{loaded.name}/{run_id}")
        return pipeline_run(finished, compiled.spec, pods, typed,
                            duration=self.clock.monotonic() - started, root=root,
                            warnings=notes, log="\n".join(lines), archived=archived)

    def _wait(self, pipeline: str, run_id: str, tasks: set[str], timeout: float,
              report: Progress | None) -> dict[str, Any]:
        latest: dict[str, Any] = {}

        def pending() -> str | None:
            try:
                current = self.api.get_run(run_id)
            except KfpApiError as exc:
                if not exc.transient:
                    raise
                return f"KFP run {run_id}: {exc.what} ({exc.why}); asking again"
            latest.clear()
            latest.update(current)
            state = str(latest.get("state") or "PENDING")
            return None if state in TERMINAL else _summary(run_id, state, latest, tasks)

        def on_progress(waiting: str, elapsed: float) -> None:
            if report is not None:
                report(f"{waiting} ({elapsed:.0f}s)")

        # Leave nothing running behind the user's back: a run that outlasts the timeout, or whose
        # wait is interrupted (Ctrl-C, or SIGTERM made one by the CLI), is terminated first.
        try:
            wait_for(pending, what=f"KFP run {run_id}", timeout=timeout, interval=self.poll,
                     clock=self.clock, on_progress=on_progress, progress_every=30.0)
        except TimedOut as exc:
            raise TimedOut(f"pipeline {pipeline!r} (KFP run {run_id}, {self._stop(run_id)})",
                           exc.waiting, exc.seconds) from None
        except KeyboardInterrupt as exc:
            exc.add_note(f"pipeline {pipeline!r}: KFP run {run_id} {self._stop(run_id)}")
            raise
        return dict(latest)

    def _stop(self, run_id: str) -> str:
        """Terminate the run; says what became of it."""
        try:
            self.api.terminate(run_id)
        except KfpApiError as refused:
            return f"still running: {refused.render()}"
        return "terminated"

    def _pods(self, submission: str) -> list[PodLog]:
        found = []
        for pod in self.kube.list("v1", "Pod", self.namespace,
                                  labels={pipeline_ir.SUBMISSION_LABEL: submission}):
            name = str((pod.get("metadata") or {}).get("name") or "")
            try:
                found.append(PodLog(pod, self.kube.pod_logs(self.namespace, name, container="main",
                                                            tail=LOG_LINES)))
            except NotFound:
                found.append(PodLog(pod, None))
            except ApiError as exc:  # e.g. the container never started (image pull, config error)
                found.append(PodLog(pod, None, f"no log from pod {name}: {exc.message}"))
        return found

    def _archived(self, run: Mapping[str, Any], tasks: set[str], pods: list[PodLog]
                  ) -> tuple[list[PodLog], dict[str, PodLog] | None, list[str]]:
        """Logs of gone pods from Argo's archive: for a pod whose record is left (its log call
        said NotFound), and for each task detail that ran but has no pod left (by task detail id).
        Every task is looked up, not only failed ones: a succeeded task's log carries its outputs.
        Also returns notes for the report (a listing that stopped at its bound)."""
        gone = [i for i, p in enumerate(pods) if p.log is None and not p.problem]
        if self.archive is None:
            return [replace(p, problem=POD_GONE_UNREAD) if i in gone else p
                    for i, p in enumerate(pods)], None, []
        left = [str((p.pod.get("metadata") or {}).get("name") or "") for p in pods]
        every = (run.get("run_details") or {}).get("task_details") or []
        names = {id(d): node_names(d, every) for d in every}
        details = [d for d in every if d.get("display_name") in tasks and d.get("state") not in _NEVER_RAN
                   and names[id(d)] and not any(names_match(names[id(d)], name) for name in left)]
        if not gone and not details:
            return pods, {}, []
        archive = LogArchive(self.archive, lambda: repository(self.kube, self.namespace), self.namespace,
                             workflow=workflow_of(run, [p.pod for p in pods]), created=created_of(run),
                             tail=LOG_LINES)
        found = list(pods)
        archived: dict[str, PodLog] = {}
        try:
            for i in gone:
                log = archive.find(pod=left[i])
                if log is not None:
                    found[i] = replace(pods[i], log=log.text, archive=log.uri)
            for detail in details:
                log = archive.find(nodes=names[id(detail)])
                if log is not None:
                    archived[str(detail.get("task_id") or "")] = PodLog({}, log.text, archive=log.uri)
        except ArchiveUnreadable as exc:
            why = (f"(no log: the task's pod is gone, and Argo's archive could not be read: {exc})")
            found = [replace(p, problem=why) if p.log is None and not p.problem else p for p in found]
            archived.update({str(d.get("task_id") or ""): PodLog({}, None, why) for d in details
                             if str(d.get("task_id") or "") not in archived})
        notes = [f"the archive listing under {prefix} stopped at {archive.limit} keys: logs beyond "
                 "them were not looked at" for prefix in archive.truncated]
        return found, archived, notes


def _summary(run_id: str, state: str, run: Mapping[str, Any], tasks: set[str]) -> str:
    """The progress line: the run's state and the pipeline's tasks running now."""
    details = (run.get("run_details") or {}).get("task_details") or []
    running = sorted({str(d.get("display_name")) for d in details
                      if d.get("state") == "RUNNING" and d.get("display_name") in tasks})
    text = f"KFP run {run_id} {state}"
    return f"{text}: running {', '.join(running)}" if running else text


def pipelines(stack: Stack, client: KubeClient | None = None,
              clock: Clock | None = None) -> ClusterPipelinesEngine:
    """The factory a cluster target declares: `Engines(pipelines=pipelines, ...)`. Settings come
    from the stack's state, as for the tuning and serving engines (a stack that is not up, or is
    not a cluster stack, is a missing prerequisite); tests pass a client and a clock. Archived
    logs are read through the stack's object store (MinIO through the forward)."""
    from appliance.targets.cluster.kfp_api import ClientKfpApi
    from appliance.targets.cluster.log_archive import StoreReader
    from appliance.targets.cluster.official import OfficialClient
    from appliance.targets.cluster.settings import PIPELINES_API, of_stack
    from appliance.targets.cluster.wait import SystemClock

    settings = of_stack(stack.name, stack.run_dir)
    # Discovery cached in the run dir, never beside a user's own kubeconfig (the kube target).
    kube = client or OfficialClient.from_kubeconfig(settings.kubeconfig, settings.context,
                                                    stack.run_dir / "discovery-cache.json")
    return ClusterPipelinesEngine(
        ClientKfpApi(settings.url(PIPELINES_API)), kube, clock or SystemClock(),
        stack.run_dir / "pipelines", pipeline_ir.ClusterProfile(settings.stubs_image),
        archive=StoreReader(stack.object_store))
