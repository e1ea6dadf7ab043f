"""ClusterPipelinesEngine over a fake KFP backend (in process) and the FakeCluster: the reference
pipelines come back as the PipelineRun the local engine returns, task by task, each task's log from
its pod or, when the pod is gone, from Argo's archive in an object store (in memory here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cluster_objects import namespace, secret
from fake_cluster import FakeCluster
from fake_kfp import FakeKfp, FakeKfpApi, TaskScript, fnv32a
from memory_objects import MemoryObjects

from appliance.objectstore import ObjectStore
from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED, PipelineRun, TaskRun
from appliance.targets.cluster import pipeline_ir as ir
from appliance.targets.cluster.client import NotFound
from appliance.targets.cluster.kfp_api import KfpApiError
from appliance.targets.cluster.kfp_runs import POD_GONE, POD_GONE_UNREAD
from appliance.targets.cluster.pipelines import ClusterPipelinesEngine
from appliance.targets.cluster.wait import TimedOut

REFERENCE = Path(__file__).resolve().parents[3] / "conformance" / "pipelines"
STUBS = "appliance-stubs:dev"
ARTIFACT_SECRET = secret("appliance-s3-pipelines", "kubeflow",  # the steps' Secret (workloads.py)
                         {"accesskey": "YWNjZXNz", "secretkey": "c2VjcmV0"})


# Argo's artifact repository as the bundle renders it (ConfigMap kubeflow/workflow-controller-
# configmap, data artifactRepository; the credentials' Secret references left out).
ARGO_REPOSITORY = """archiveLogs: true
s3:
  endpoint: "minio.object-store.svc.cluster.local:9000"
  bucket: "mlpipeline"
  keyFormat: "private-artifacts/{{workflow.namespace}}/{{workflow.name}}/{{workflow.creationTimestamp.Y}}/\\
{{workflow.creationTimestamp.m}}/{{workflow.creationTimestamp.d}}/{{pod.name}}"
  insecure: true
"""


def argo_config(repository: str = ARGO_REPOSITORY) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "workflow-controller-configmap", "namespace": "kubeflow"},
            "data": {"artifactRepository": repository}}


def kfp_cluster(*objects: dict[str, Any], **options: Any) -> FakeCluster:
    """The cluster KFP runs steps in: namespace kubeflow (Pod Security restricted, as rendered)
    with the artifact Secret."""
    cluster = FakeCluster(**options)
    cluster.apply([namespace("kubeflow"), *objects])
    return cluster


def engine(cluster: FakeCluster, backend: FakeKfp, tmp_path: Path, **options: Any) -> ClusterPipelinesEngine:
    return ClusterPipelinesEngine(FakeKfpApi(backend), cluster, cluster.clock, tmp_path / "pipelines",
                                  ir.ClusterProfile(STUBS), **options)


DECISION = json.dumps({"promote": True, "champion_revision": None})
REFERENCE_SCRIPT = {
    "make-dataset": TaskScript(log="wrote 200 rows (seed 7) to s3://mlpipeline/d.csv",
                               outputs={"Output": "s3://mlpipeline/d.csv"}),
    "train-model": TaskScript(log="training m on 200 rows: lr=0.01 depth=6\nwrote model m version v1",
                              outputs={"model_uri": "s3://mlpipeline/m.json", "version": "v1"}),
    "evaluate-model": TaskScript(
        log="accuracy 0.95 on 200 rows",
        outputs={"Output": '{"accuracy": 0.95}'},
        artifacts={"metrics": {"artifacts": [{"name": "metrics", "uri": "minio://mlpipeline/v2/m",
                                              "metadata": {"accuracy": 0.95}}]}}),
    "gate-model": TaskScript(log="PROMOTE m v1", outputs={"promote": True, "decision": DECISION}),
    "promote-model": TaskScript(log="m: champion is v1 (revision 1)", outputs={"Output": 1}),
}


def test_the_reference_pipeline_runs_and_reports_every_task(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp(REFERENCE_SCRIPT, cluster)
    progress: list[str] = []
    result = engine(cluster, backend, tmp_path, progress=progress.append).run(
        REFERENCE / "train_gate_promote.py", {"model": "m"})
    run_id = next(iter(backend.runs))
    # 12 steps of the fake (start, begin+end per task, finish), one poll every 5 s.
    assert cluster.clock.slept == [5.0] * 11
    assert result == PipelineRun(
        run_id=run_id,
        pipeline="train-gate-promote",
        state=SUCCEEDED,
        arguments={"model": "m"},
        outputs={"Output": DECISION},
        tasks=(
            TaskRun("make-dataset", "make-dataset", SUCCEEDED, 1, 5.0, {"Output": "s3://mlpipeline/d.csv"},
                    "wrote 200 rows (seed 7) to s3://mlpipeline/d.csv"),
            TaskRun("train-model", "train-model", SUCCEEDED, 1, 5.0,
                    {"model_uri": "s3://mlpipeline/m.json", "version": "v1"},
                    "training m on 200 rows: lr=0.01 depth=6\nwrote model m version v1"),
            TaskRun("evaluate-model", "evaluate-model", SUCCEEDED, 1, 5.0,
                    {"Output": '{"accuracy": 0.95}',
                     "metrics": {"uri": "minio://mlpipeline/v2/m", "metadata": {"accuracy": 0.95}}},
                    "accuracy 0.95 on 200 rows"),
            TaskRun("gate-model", "gate-model", SUCCEEDED, 1, 5.0, {"promote": True, "decision": DECISION},
                    "PROMOTE m v1"),
            TaskRun("promote-model", "promote-model", SUCCEEDED, 1, 5.0, {"Output": 1},
                    "m: champion is v1 (revision 1)"),
        ),
        duration_seconds=55.0,
        root=f"minio://mlpipeline/v2/artifacts/train-gate-promote/{run_id}",
        log=f"submitted train-gate-promote as KFP run {run_id} (experiment appliance)\n"
            f"KFP run {run_id} ended SUCCEEDED",
    )
    # What went to the API: the typed arguments, caching off, the compiled spec and platform spec.
    (body,) = backend.created
    assert body["runtime_config"] == {"parameters": {"model": "m"}}
    assert body["enable_caching"] is False
    assert sorted(body["pipeline_spec"]) == ["pipeline_spec", "platform_spec"]
    assert [e["display_name"] for e in backend.experiments.values()] == ["appliance"]
    # Every step pod ran the stubs image with IfNotPresent and the Secret's keys as AWS_* (the
    # FakeCluster refuses to start a container whose Secret or key is missing).
    pods = cluster.list("v1", "Pod", "kubeflow")
    assert len(pods) == 5
    for pod in pods:
        (main,) = pod["spec"]["containers"]
        assert (main["image"], main["imagePullPolicy"]) == (STUBS, "IfNotPresent")
        assert [e["valueFrom"]["secretKeyRef"] for e in main["env"] if "valueFrom" in e] == [
            {"name": "appliance-s3-pipelines", "key": "accesskey"},
            {"name": "appliance-s3-pipelines", "key": "secretkey"}]
    # A progress line whenever what is running changes (the fake runs one task at a time).
    between = [f"KFP run {run_id} RUNNING ({at}s)" for at in (0, 10, 20, 30, 40, 50)]
    running = [f"KFP run {run_id} RUNNING: running {task} ({at}s)" for task, at in (
        ("make-dataset", 5), ("train-model", 15), ("evaluate-model", 25), ("gate-model", 35),
        ("promote-model", 45))]
    assert progress == [line for pair in zip(between, [*running, ""], strict=True) for line in pair][:-1]


FAULT = "stubs.errors.StubFault: model broken version 1 declares fail_on_load: refusing to load"
TRACEBACK = f"Traceback (most recent call last):\n  File \"x.py\", line 3, in evaluate\n{FAULT}"


def test_a_failing_step_fails_the_run_naming_it_with_its_log(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp({"evaluate-model": TaskScript(log=TRACEBACK, fail=True),
                       "create-model": TaskScript(log="wrote model", outputs={"Output": "s3://b/m"})},
                      cluster)
    result = engine(cluster, backend, tmp_path).run(REFERENCE / "failing_step.py", {"model": "broken"})
    assert result.state == FAILED
    assert result.failed_tasks == ("evaluate-model",)
    assert result.states() == {"create-model": SUCCEEDED, "make-dataset": SUCCEEDED,
                               "evaluate-model": FAILED, "gate-model": SKIPPED}
    failed = result.task("evaluate-model")
    # The launcher's own lines are not the task's log; the error is its last exception line.
    assert failed.log == TRACEBACK
    assert failed.error == FAULT == failed.log_tail(1)
    assert failed.outputs == {}
    assert result.error == f"task evaluate-model failed: {FAULT}"
    assert result.task("gate-model") == TaskRun("gate-model", "gate-model", SKIPPED)
    assert result.task("create-model").outputs == {"Output": "s3://b/m"}
    assert result.outputs == {}


FAILING_SCRIPT = {"evaluate-model": TaskScript(log=TRACEBACK, fail=True),
                  "create-model": TaskScript(log="wrote model", outputs={"Output": "s3://b/m"})}


def archived_key(workflow: str, task: str,
                 key_format: str = "private-artifacts/kubeflow/{w}/2026/01/01/{p}") -> str:
    """Where Argo archives a task's main log: its pod is `<workflow>-system-container-impl-<hash>`,
    the hash of its node's name (the fake's runs are created 2026-01-01)."""
    pod = f"{workflow}-system-container-impl-{fnv32a(f'{workflow}.root.{task}')}"
    return key_format.format(w=workflow, p=pod) + "/main.log"


def configmap_reads(cluster: FakeCluster) -> list[Any]:
    return [ref for call, ref in cluster.calls if call == "get" and ref.kind == "ConfigMap"]


def test_a_task_log_comes_from_its_pod_and_the_archive_is_not_read(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET, argo_config())
    store = MemoryObjects()
    backend = FakeKfp(FAILING_SCRIPT, cluster, archive=store)
    result = engine(cluster, backend, tmp_path, archive=store).run(
        REFERENCE / "failing_step.py", {"model": "broken"})
    assert result.task("evaluate-model").log == TRACEBACK
    assert result.task("create-model").log == "wrote model"
    assert result.warnings == ()
    # Argo archived every step's log, and none of it was needed: no listing, no read, and not
    # even the workflow controller's ConfigMap was asked for.
    workflow = backend.runs[result.run_id].workflow
    assert sorted(key for _, key in store.objects) == sorted(
        archived_key(workflow, task) for task in ("make-dataset", "create-model", "evaluate-model"))
    assert (store.reads, store.listed, configmap_reads(cluster)) == ([], [], [])


def test_when_the_pods_are_gone_each_task_log_comes_from_the_archive(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET, argo_config())
    store = MemoryObjects()
    backend = FakeKfp(FAILING_SCRIPT, cluster, archive=store, pods_deleted=True)
    result = engine(cluster, backend, tmp_path, archive=store).run(
        REFERENCE / "failing_step.py", {"model": "broken"})
    assert cluster.list("v1", "Pod", "kubeflow") == []
    workflow = backend.runs[result.run_id].workflow
    uri = {task: f"s3://mlpipeline/{archived_key(workflow, task)}"
           for task in ("make-dataset", "create-model", "evaluate-model")}
    # The same report as with the pods (the launcher's lines stripped, outputs from the marked
    # line), and a note per task saying where its log came from.
    assert result.tasks == (
        TaskRun("create-model", "create-model", SUCCEEDED, 1, 5.0, {"Output": "s3://b/m"}, "wrote model"),
        TaskRun("make-dataset", "make-dataset", SUCCEEDED, 1, 5.0, {}, "make-dataset ran"),
        TaskRun("evaluate-model", "evaluate-model", FAILED, 1, 5.0, {}, TRACEBACK, FAULT),
        TaskRun("gate-model", "gate-model", SKIPPED),
    )
    assert result.error == f"task evaluate-model failed: {FAULT}"
    assert result.warnings == tuple(f"log of {task} read from the archive {uri[task]} (its pod is gone)"
                                    for task in ("create-model", "make-dataset", "evaluate-model"))
    # No pod names the workflow: the task details do (the root node is named as its workflow, the
    # executors' node IDs are `<workflow>-<hash>`). One listing under it, one read per task.
    assert store.listed == [f"s3://mlpipeline/private-artifacts/kubeflow/{workflow}/"]
    assert sorted(store.reads) == sorted(uri.values())
    assert len(configmap_reads(cluster)) == 1


def test_a_gone_pod_with_no_archived_log_says_neither_source_had_it(tmp_path: Path) -> None:
    # No workflow controller ConfigMap: Argo has no repository and archives nothing; the engine
    # looks where the bundle's repository would have put it.
    cluster = kfp_cluster(ARTIFACT_SECRET)
    store = MemoryObjects()
    backend = FakeKfp(FAILING_SCRIPT, cluster, archive=store, pods_deleted={"evaluate-model"})
    result = engine(cluster, backend, tmp_path, archive=store).run(
        REFERENCE / "failing_step.py", {"model": "broken"})
    assert store.objects == {}
    failed = result.task("evaluate-model")
    # The error is then KFP's own for the task.
    assert (failed.state, failed.log, failed.error) == (FAILED, POD_GONE, "failed with exit code 1")
    assert result.task("create-model").log == "wrote model"  # its pod is still there
    assert result.warnings == ()
    workflow = backend.runs[result.run_id].workflow  # from the label of the pods still there
    assert (store.listed, store.reads) == ([f"s3://mlpipeline/private-artifacts/kubeflow/{workflow}/"], [])
    # An engine given no object store does not look, and says so.
    fresh = kfp_cluster(ARTIFACT_SECRET)
    unread = engine(fresh, FakeKfp(FAILING_SCRIPT, fresh, pods_deleted=True), tmp_path).run(
        REFERENCE / "failing_step.py", {"model": "broken"})
    assert {t.key: t.log for t in unread.tasks if t.state != SKIPPED} == {
        "make-dataset": POD_GONE_UNREAD, "create-model": POD_GONE_UNREAD, "evaluate-model": POD_GONE_UNREAD}


def test_the_keyformat_in_the_clusters_configmap_is_followed(tmp_path: Path) -> None:
    moved = ('archiveLogs: true\ns3:\n  bucket: "mlpipeline"\n'
             '  keyFormat: "step-logs/{{ workflow.name }}/{{pod.name}}"\n')
    cluster = kfp_cluster(ARTIFACT_SECRET, argo_config(moved))
    store = MemoryObjects()
    backend = FakeKfp(FAILING_SCRIPT, cluster, archive=store, pods_deleted=True)
    result = engine(cluster, backend, tmp_path, archive=store).run(
        REFERENCE / "failing_step.py", {"model": "broken"})
    workflow = backend.runs[result.run_id].workflow
    key = archived_key(workflow, "evaluate-model", "step-logs/{w}/{p}")
    assert result.task("evaluate-model").log == TRACEBACK
    note = f"log of evaluate-model read from the archive s3://mlpipeline/{key} (its pod is gone)"
    assert note in result.warnings
    assert store.listed == [f"s3://mlpipeline/step-logs/{workflow}/"]


class LogsGone:
    """The cluster, except that the log of the named tasks' pods is NotFound: the pod went between
    the engine listing it and reading its log."""

    def __init__(self, cluster: FakeCluster, tasks: set[str]) -> None:
        self.cluster, self.tasks = cluster, tasks

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cluster, name)

    def pod_logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
                 tail: int = 50) -> str:
        annotations = self.cluster.stored("v1", "Pod", pod, namespace)["metadata"]["annotations"]
        if annotations[ir.TASKS_ANNOTATION] in self.tasks:
            raise NotFound(f'pods "{pod}" not found')
        return self.cluster.pod_logs(namespace, pod, container, previous, tail)


def test_a_pod_whose_log_is_gone_is_read_from_the_archive_by_its_name(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET, argo_config())
    store = MemoryObjects()
    backend = FakeKfp(FAILING_SCRIPT, cluster, archive=store)
    engine_ = ClusterPipelinesEngine(FakeKfpApi(backend), LogsGone(cluster, {"evaluate-model"}),  # type: ignore[arg-type]
                                     cluster.clock, tmp_path, ir.ClusterProfile(STUBS), archive=store)
    result = engine_.run(REFERENCE / "failing_step.py", {"model": "broken"})
    uri = f"s3://mlpipeline/{archived_key(backend.runs[result.run_id].workflow, 'evaluate-model')}"
    assert (result.task("evaluate-model").log, result.task("evaluate-model").error) == (TRACEBACK, FAULT)
    assert result.warnings == (f"log of evaluate-model read from the archive {uri} (its pod is gone)",)
    # The pod's record names its workflow and the run its date: the key is read directly.
    assert (store.reads, store.listed) == ([uri], [])


def test_an_archive_that_cannot_be_read_is_named_in_the_task_log(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET, argo_config())
    store = MemoryObjects()
    backend = FakeKfp(FAILING_SCRIPT, cluster, archive=store, pods_deleted=True)
    store.refuse = "AccessDenied: Access Denied."
    result = engine(cluster, backend, tmp_path, archive=store).run(
        REFERENCE / "failing_step.py", {"model": "broken"})
    why = ("(no log: the task's pod is gone, and Argo's archive could not be read: "
           "AccessDenied: Access Denied.)")
    failed = result.task("evaluate-model")
    assert (failed.log, failed.error) == (why, why)
    assert result.task("create-model").log == why


class S3Archive:
    """Argo's wait container writing to a real S3 server, with the root credentials it is given."""

    def __init__(self, store: ObjectStore) -> None:
        self.client = store.client()

    def put(self, bucket: str, key: str, data: bytes) -> None:
        import io

        self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type="text/plain")


@pytest.mark.integration  # a real S3 server (moto, as MinIO: signatures enforced) on 127.0.0.1
def test_archived_logs_are_read_from_a_real_s3_server(tmp_path: Path) -> None:
    from fake_minio import FakeMinio

    from appliance.targets.cluster.log_archive import ArchiveUnreadable, StoreReader

    with FakeMinio() as minio:
        minio.root_user("minio-root-key", "minio-root-secret-0123456789")
        store = ObjectStore(minio.url, "minio-root-key", "minio-root-secret-0123456789")
        store.client().make_bucket("mlpipeline")
        cluster = kfp_cluster(ARTIFACT_SECRET, argo_config())
        backend = FakeKfp(FAILING_SCRIPT, cluster, archive=S3Archive(store), pods_deleted=True)
        result = engine(cluster, backend, tmp_path, archive=StoreReader(store)).run(
            REFERENCE / "failing_step.py", {"model": "broken"})
        uri = f"s3://mlpipeline/{archived_key(backend.runs[result.run_id].workflow, 'evaluate-model')}"
        assert (result.task("evaluate-model").log, result.error) == (
            TRACEBACK, f"task evaluate-model failed: {FAULT}")
        assert result.task("create-model").outputs == {"Output": "s3://b/m"}
        assert f"log of evaluate-model read from the archive {uri} (its pod is gone)" in result.warnings
        # What S3 answers for nothing there, and for a key that does not sign.
        reader = StoreReader(store)
        assert reader.read("mlpipeline", "private-artifacts/none/main.log") is None
        assert reader.read("no-such-bucket", "k") is None
        assert list(reader.keys("no-such-bucket", "")) == []
        wrong = StoreReader(ObjectStore(minio.url, "minio-root-key", "not-the-secret-0123456789"))
        with pytest.raises(ArchiveUnreadable, match="SignatureDoesNotMatch"):
            wrong.read("mlpipeline", "k")


def test_fan_out_iterations_are_keyed_as_kfp_local_keys_them(tmp_path: Path) -> None:
    lrs = [0.001, 0.01, 0.1, 0.03]

    def script(name: str, indices: tuple[int, ...]) -> TaskScript:
        if name == "score-lr":
            scored = json.dumps({"lr": lrs[indices[0]], "depth": 6, "accuracy": indices[0] / 10})
            return TaskScript(log=f"lr={lrs[indices[0]]}", outputs={"Output": scored})
        return TaskScript(log="best of 4", outputs={"Output": '{"lr": 0.01}'})

    cluster = kfp_cluster(ARTIFACT_SECRET)
    result = engine(cluster, FakeKfp(script, cluster), tmp_path).run(REFERENCE / "fan_out.py", {"lrs": lrs})
    assert result.state == SUCCEEDED, result.error
    assert [(t.key, t.state, t.log, json.loads(t.outputs["Output"])) for t in result.tasks] == [
        *[(f"for-loop-1-iteration-{i}/score-lr", SUCCEEDED, f"lr={lr}",
           {"lr": lr, "depth": 6, "accuracy": i / 10}) for i, lr in enumerate(lrs)],
        ("pick-best", SUCCEEDED, "best of 4", {"lr": 0.01}),
    ]
    assert result.outputs == {"Output": '{"lr": 0.01}'}


def test_a_condition_takes_exactly_one_branch(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp({"report": TaskScript(skip=True), "report-3": TaskScript(skip=True),
                       "report-2": TaskScript(log="review", outputs={"Output": "review"})}, cluster)
    result = engine(cluster, backend, tmp_path).run(REFERENCE / "condition.py", {"lr": 0.03, "depth": 6})
    assert result.state == SUCCEEDED
    assert [(t.key, t.state) for t in result.tasks] == [
        ("score-lr", SUCCEEDED), ("read-accuracy", SUCCEEDED), ("report", SKIPPED),
        ("report-2", SUCCEEDED), ("report-3", SKIPPED)]
    assert result.task("report-2").outputs == {"Output": "review"}
    assert result.task("report").log == ""


def test_container_components_run_here_and_their_outputs_are_said_to_be_unreported(tmp_path: Path) -> None:
    source = tmp_path / "echo.py"
    source.write_text(
        "from kfp import dsl\n\n"
        "@dsl.container_component\n"
        "def echo():\n"
        "    return dsl.ContainerSpec(image='busybox:1.36', command=['echo'], args=['hi'])\n\n"
        "@dsl.pipeline(name='echo')\n"
        "def pipe() -> None:\n"
        "    echo()\n")
    cluster = kfp_cluster(ARTIFACT_SECRET)
    result = engine(cluster, FakeKfp({"echo": TaskScript(log="hi")}, cluster), tmp_path).run(source)
    assert result.state == SUCCEEDED
    assert result.tasks == (TaskRun("echo", "echo", SUCCEEDED, 1, 5.0, {}, "hi"),)
    assert result.warnings == ("outputs of echo are not reported: container components print no "
                               "executor output, and KFP's run API does not return outputs",)
    (pod,) = cluster.list("v1", "Pod", "kubeflow")
    assert pod["spec"]["containers"][0]["image"] == "busybox:1.36"


def test_without_the_artifact_secret_the_step_cannot_start_and_the_task_says_why(tmp_path: Path) -> None:
    cluster = kfp_cluster()
    backend = FakeKfp({"echo-a": TaskScript(fail=True)}, cluster)
    source = tmp_path / "one.py"
    source.write_text(
        "from kfp import dsl\n\n"
        "@dsl.component\n"
        "def echo_a() -> str:\n"
        "    return 'a'\n\n"
        "@dsl.pipeline(name='one')\n"
        "def pipe() -> None:\n"
        "    echo_a()\n")
    result = engine(cluster, backend, tmp_path).run(source)
    (task,) = result.tasks
    pod = cluster.list("v1", "Pod", "kubeflow")[0]["metadata"]["name"]
    why = (f'no log from pod {pod}: container "main" in pod "{pod}" is waiting to start: '
           "CreateContainerConfigError")
    assert (task.state, task.log, task.error) == (FAILED, why, why)
    assert result.error == f"task echo-a failed: {why}"


class NeverEnding(FakeKfpApi):
    def get_run(self, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "state": "RUNNING", "run_details": {"task_details": [
            {"display_name": "train-model", "state": "RUNNING"},
            {"display_name": "train-model-driver", "state": "RUNNING"}]}}


def test_a_run_that_outlasts_the_timeout_is_terminated_and_reported(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp({}, cluster)
    engine_ = ClusterPipelinesEngine(NeverEnding(backend), cluster, cluster.clock, tmp_path,
                                     ir.ClusterProfile(STUBS))
    progress: list[str] = []
    with pytest.raises(TimedOut) as raised:
        engine_.run(REFERENCE / "train_gate_promote.py", {"model": "m"}, timeout=12, progress=progress.append)
    run_id = next(iter(backend.runs))
    assert backend.terminated == [run_id]
    assert raised.value.render() == (
        f"timed out after 12s waiting for pipeline 'train-gate-promote' (KFP run {run_id}, "
        f"terminated): KFP run {run_id} RUNNING: running train-model (fix: run 'appliance diagnose' "
        "for events, pod states and logs)")
    assert raised.value.exit_code == 4
    assert cluster.clock.slept == [5.0, 5.0, 2.0]
    assert progress == [f"KFP run {run_id} RUNNING: running train-model (0s)"]


class Flaky(FakeKfpApi):
    """The API fails some reads: `errors` are raised, in order, on the reads numbered in `at`."""

    def __init__(self, backend: FakeKfp, at: set[int], errors: list[KfpApiError]) -> None:
        super().__init__(backend)
        self.reads, self.at, self.errors = 0, at, errors

    def get_run(self, run_id: str) -> dict[str, Any]:
        self.reads += 1
        if self.reads in self.at:
            raise self.errors.pop(0)
        return super().get_run(run_id)


def test_the_wait_rides_out_an_api_that_does_not_answer_but_not_a_refusal(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp(REFERENCE_SCRIPT, cluster)
    gone = KfpApiError("the pipelines API at http://127.0.0.1:1 did not answer (read run r)",
                       "connection refused", transient=True)
    progress: list[str] = []
    flaky = ClusterPipelinesEngine(Flaky(backend, {3}, [gone]), cluster, cluster.clock, tmp_path,
                                   ir.ClusterProfile(STUBS), progress=progress.append)
    result = flaky.run(REFERENCE / "train_gate_promote.py", {"model": "m"})
    run_id = result.run_id
    assert result.state == SUCCEEDED
    assert f"KFP run {run_id}: {gone.what} (connection refused); asking again (10s)" in progress
    refused = KfpApiError("the pipelines API refused to read run r", "404 Not Found: run r not found")
    strict = ClusterPipelinesEngine(Flaky(FakeKfp(REFERENCE_SCRIPT, cluster), {2}, [refused]), cluster,
                                    cluster.clock, tmp_path, ir.ClusterProfile(STUBS))
    with pytest.raises(KfpApiError) as raised:
        strict.run(REFERENCE / "train_gate_promote.py", {"model": "m"})
    assert raised.value is refused


class Unstoppable(NeverEnding):
    def terminate(self, run_id: str) -> None:
        raise KfpApiError("the pipelines API refused to terminate run x", "500 Internal Server Error")


def test_a_run_that_cannot_be_terminated_says_it_is_still_running(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp({}, cluster)
    engine_ = ClusterPipelinesEngine(Unstoppable(backend), cluster, cluster.clock, tmp_path,
                                     ir.ClusterProfile(STUBS), timeout=5)
    with pytest.raises(TimedOut) as raised:
        engine_.run(REFERENCE / "train_gate_promote.py", {"model": "m"})
    run_id = next(iter(backend.runs))
    assert raised.value.what == (
        f"timed out after 5s waiting for pipeline 'train-gate-promote' (KFP run {run_id}, still "
        "running: the pipelines API refused to terminate run x: 500 Internal Server Error)")


class Interrupted:
    """A clock whose `at`-th sleep is interrupted (Ctrl-C while the engine waits)."""

    def __init__(self, clock: Any, at: int) -> None:
        self.clock, self.at, self.sleeps = clock, at, 0

    def monotonic(self) -> float:
        return float(self.clock.monotonic())

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == self.at:
            raise KeyboardInterrupt
        self.clock.sleep(seconds)


def test_an_interrupted_wait_terminates_the_run_and_says_so(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    backend = FakeKfp(REFERENCE_SCRIPT, cluster)
    engine_ = ClusterPipelinesEngine(FakeKfpApi(backend), cluster, Interrupted(cluster.clock, 3),
                                     tmp_path, ir.ClusterProfile(STUBS))
    with pytest.raises(KeyboardInterrupt) as raised:
        engine_.run(REFERENCE / "train_gate_promote.py", {"model": "m"})
    run_id = next(iter(backend.runs))
    assert backend.terminated == [run_id]
    assert raised.value.__notes__ == [f"pipeline 'train-gate-promote': KFP run {run_id} terminated"]
    # The fake ends a terminated run CANCELED at its next step, as KFP does.
    assert backend.get_run(run_id)["state"] == "CANCELED"
    unstoppable = ClusterPipelinesEngine(Unstoppable(backend), cluster, Interrupted(cluster.clock, 1),
                                         tmp_path, ir.ClusterProfile(STUBS))
    with pytest.raises(KeyboardInterrupt) as raised:
        unstoppable.run(REFERENCE / "train_gate_promote.py", {"model": "m"})
    assert raised.value.__notes__ == [
        f"pipeline 'train-gate-promote': KFP run {list(backend.runs)[-1]} still running: the "
        "pipelines API refused to terminate run x: 500 Internal Server Error"]


def test_the_compiled_package_is_kept_for_inspection(tmp_path: Path) -> None:
    cluster = kfp_cluster(ARTIFACT_SECRET)
    engine(cluster, FakeKfp(REFERENCE_SCRIPT, cluster), tmp_path).run(
        REFERENCE / "train_gate_promote.py", {"model": "m"})
    (package,) = (tmp_path / "pipelines").iterdir()
    assert package.name.startswith("train-gate-promote-") and package.suffix == ".yaml"
    submission = package.stem.removeprefix("train-gate-promote-")
    pods = cluster.list("v1", "Pod", "kubeflow", labels={ir.SUBMISSION_LABEL: submission})
    assert sorted(p["metadata"]["annotations"][ir.TASKS_ANNOTATION] for p in pods) == sorted(REFERENCE_SCRIPT)


def test_the_factory_builds_the_engine_from_the_stacks_recorded_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.config import profile as profiles
    from appliance.runtime.state import RunDir, StackState
    from appliance.stack import Stack
    from appliance.targets.cluster import kfp_api, official
    from appliance.targets.cluster import pipelines as cluster_pipelines
    from appliance.targets.cluster.log_archive import StoreReader
    from appliance.targets.cluster.settings import ClusterSettings

    built: list[tuple[str, Any]] = []
    monkeypatch.setattr(kfp_api, "ClientKfpApi", lambda host: built.append(("kfp", host)) or "api")
    monkeypatch.setattr(official.OfficialClient, "from_kubeconfig", classmethod(
        lambda cls, path, context, cache=None: built.append(("kube", (path, context))) or "kube"))
    run_dir = RunDir("cl")
    run_dir.create()
    settings = ClusterSettings(run_dir.path / "kubeconfig", "kind-cl", "cl", stubs_image="stubs:1",
                               ports={"object-store": 19000, "pipelines-api": 18888})
    run_dir.save(StackState("cl", "kind", "standard", 1.0, settings=settings.to_dict()))
    profile = profiles.load("standard")
    stack = Stack("cl", "kind", profile, ObjectStore("http://127.0.0.1:19000", "a", "b"), run_dir.path)
    built_engine = cluster_pipelines.pipelines(stack)
    assert built == [("kube", (run_dir.path / "kubeconfig", "kind-cl")), ("kfp", "http://127.0.0.1:18888")]
    assert (built_engine.api, built_engine.kube) == ("api", "kube")
    # Archived logs are read through the stack's object store (MinIO through the forward).
    assert isinstance(built_engine.archive, StoreReader) and built_engine.archive.store is stack.object_store
    assert built_engine.profile == ir.ClusterProfile("stubs:1")
    assert built_engine.work_dir == run_dir.path / "pipelines"
    assert (built_engine.timeout, built_engine.poll, built_engine.namespace) == (1200.0, 5.0, "kubeflow")


def test_the_factory_refuses_a_stack_without_cluster_settings_as_the_other_engines_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack recorded without cluster settings (not a cluster stack, or its `up` did not finish)
    is a missing prerequisite with its fix, as for tuning and serving, not "corrupted" state."""
    from appliance.config import profile as profiles
    from appliance.errors import MissingPrerequisite
    from appliance.runtime.state import RunDir, StackState
    from appliance.stack import Stack
    from appliance.targets.cluster import pipelines as cluster_pipelines

    run_dir = RunDir("half-up")
    run_dir.create()
    run_dir.save(StackState("half-up", "kind", "standard", 1.0, settings={}))
    stack = Stack("half-up", "kind", profiles.load("standard"), ObjectStore("http://127.0.0.1:9", "a", "b"),
                  run_dir.path)
    with pytest.raises(MissingPrerequisite) as caught:
        cluster_pipelines.pipelines(stack)
    assert caught.value.render() == (
        "stack 'half-up' has no cluster settings: it is a kind stack, or its 'up' did not finish "
        "(fix: run 'appliance up --name half-up' with --target kind or kube)")
