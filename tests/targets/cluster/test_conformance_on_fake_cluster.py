"""The shipped conformance suite against a kind stack on the fake cluster: it proves the cluster
engine paths end to end (not the cluster).

`KindTarget.up` brings the real rendered standard profile up on a scripted kind machine and
FakeCluster, with Katib's and KServe's controllers plugged in (fake_controllers.py). Every forward
reaches a real server in this process: the object store a real S3 server (moto, as MinIO with the
root user of the cluster's own Secret, signatures enforced, and the per-purpose users the bring-up
creates through the admin seam with their policies enforced: trials, steps and predictors use
them, never the root user), the KFP API the fake v2beta1 REST
server whose runs execute their tasks as processes (kfp_launcher.py), each predictor a real stub
model server (stub_forwards.py). Katib trials run the stub trainer as processes too. Pods reach
the object store through its in-cluster address, routed to the local server (pod_processes.py).

The suite runs in this process (pytest.main) on the Stack the kind target hands out, through the
plugin's GivenStack seam; its results come back as `appliance conformance` reads them.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fake_runner as texts
import pytest
from checkout import upstream_dir
from fake_cluster import FakeCluster
from fake_controllers import FakeKatib, FakeKServe
from fake_kfp import WORKFLOW_LABEL, FakeKfpServer
from fake_minio import FakeMinio
from kfp_launcher import ExecutingKfp
from kind_machine import NODE, STACK, healthy_machine
from pod_processes import PodNetwork
from stub_forwards import StubServerForwards

from appliance.config import profile as profiles
from appliance.conformance.areas import AREAS, suite_dir
from appliance.console import Console
from appliance.runtime.state import RunDir
from appliance.stack import Engines, Stack
from appliance.targets.cluster import pipelines, serving, tuning
from appliance.targets.cluster.settings import (
    OBJECT_STORE,
    PIPELINES_API,
    WORKLOAD_NAMESPACE,
    ClusterSettings,
    Service,
)
from appliance.targets.cluster.workloads import in_cluster_endpoint
from appliance.targets.interface import UpOptions
from appliance.targets.kind.lifecycle import KindTarget, render_profile
from appliance.targets.kind.preload import normalize
from appliance.tuning.template import ProcessSpec
from conformance.session import GivenStack

pytestmark = pytest.mark.integration  # servers on 127.0.0.1, task, trial and predictor processes

FORWARDER_PID = 4242
# Every test of the shipped suite, by area: each must pass (none is skipped: the standard profile
# has every component).
EXPECTED = {
    "object-store": ["test_put_get_list_delete_round_trip",
                     "test_multipart_upload_keeps_every_byte_and_checksum",
                     "test_wrong_credentials_are_refused_with_403"],
    "pipelines": ["test_reference_pipeline_succeeds_and_leaves_its_artifacts",
                  "test_a_failing_step_fails_the_run_naming_it_with_its_log",
                  "test_fan_out_runs_every_iteration_and_collects_them",
                  "test_a_condition_takes_exactly_one_branch"],
    "tuning": ["test_reference_experiment_reaches_the_known_optimum",
               "test_failing_trials_end_the_experiment_at_its_failure_budget"],
    "serving": ["test_v1_and_v2_predictions_equal_the_stub_exactly",
                "test_malformed_requests_get_4xx_and_the_server_keeps_serving"],
    "promotion": ["test_a_worse_challenger_is_rejected_and_the_champion_keeps_serving",
                  "test_an_unfair_challenger_is_rejected_even_with_better_accuracy",
                  "test_a_better_challenger_is_promoted_and_served_and_rollback_restores_the_champion"],
}


class ToLocalServers:
    """The kind target's Forwarder: each forward reaches the in-process server standing in for
    its Service. When forwarding starts, MinIO is running with the root user of its Secret."""

    def __init__(self, cluster: FakeCluster, minio: FakeMinio, kfp: FakeKfpServer) -> None:
        self.cluster, self.minio, self.kfp = cluster, minio, kfp
        self.running: set[int] = set()

    def start(self, run_dir: Path, settings: ClusterSettings, services: Mapping[str, Service],
              ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        assert sorted(services) == [OBJECT_STORE, PIPELINES_API]
        self.minio.root_user_from(self.cluster)
        self.running.add(FORWARDER_PID)
        return FORWARDER_PID, {OBJECT_STORE: self.minio.port,
                               PIPELINES_API: int(self.kfp.url.rsplit(":", 1)[1])}

    def stop(self, run_dir: Path, pid: int) -> None:
        self.running.discard(pid)

    def alive(self, run_dir: Path, pid: int) -> bool:
        return pid in self.running


def trial_processes(network: PodNetwork, work: Path,
                    ran: list[tuple[str, ...]]) -> Callable[[str, ProcessSpec], tuple[str, bool]]:
    """FakeKatib's trainer: a trial's primary container run as a process with the pod's env."""

    def run(namespace: str, spec: ProcessSpec) -> tuple[str, bool]:
        env = network.env(namespace, spec.container.get("env") or [])
        code, output = network.run(spec.argv, env, work / f"trial-{len(ran)}")
        ran.append(spec.argv)
        return output, code == 0

    return run


@dataclass
class OnFakeCluster:
    """The stack, and what stands behind it."""

    stack: Stack
    cluster: FakeCluster
    minio: FakeMinio
    kfp: ExecutingKfp
    trials: list[tuple[str, ...]]  # the argv of every trial that ran


@pytest.fixture
def upstream() -> Path:
    found = upstream_dir()
    if not (found / "SOURCES.md").is_file():
        pytest.skip(f"upstream manifests not found at {found} (CI sets APPLIANCE_UPSTREAM)")
    return found


@pytest.fixture
def kind_stack(upstream: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OnFakeCluster]:
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPLIANCE_CACHE", str(upstream))
    profile = profiles.load("standard")
    bundle = render_profile(profile)
    cluster = FakeCluster(crd_names_after=2, crd_established_after=8)
    cluster.ca_injectors["katib/katib-controller"] = ["katib.kubeflow.org"]
    runner = healthy_machine(cluster, RunDir(STACK).path)
    # Every image is already in the node (a warm machine): the preload only verifies.
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        sorted(normalize(i) for i in {*bundle.images(), "appliance-stubs:dev"})))
    opened: list[StubServerForwards] = []
    trials: list[tuple[str, ...]] = []
    with FakeMinio() as minio:
        network = PodNetwork(cluster, {in_cluster_endpoint(): f"127.0.0.1:{minio.port}"})
        cluster.controllers += [FakeKatib(trainer=trial_processes(network, tmp_path / "trials", trials)),
                                FakeKServe()]
        backend = ExecutingKfp(cluster, network, tmp_path / "kfp")
        with FakeKfpServer(backend) as kfp:

            def served(stack: Stack) -> Any:
                forwards = StubServerForwards(cluster, stack.object_store, tmp_path / "predictors")
                opened.append(forwards)
                return serving.engine(stack, forwards, client=cluster, clock=cluster.clock)

            # The targets' own factories, with the fake cluster's client and clock.
            engines = Engines(
                pipelines=lambda stack: pipelines.pipelines(stack, client=cluster, clock=cluster.clock),
                tuning=lambda stack: tuning.engine(stack, client=cluster, clock=cluster.clock),
                serving=served)
            target = KindTarget(runner=runner, connect=lambda settings: cluster, clock=cluster.clock,
                                forwarder=ToLocalServers(cluster, minio, kfp), render=lambda p: bundle,
                                admin=minio.admin.client,
                                engines=engines, which=runner.which, disk_free=lambda path: 100 * 1024**3)
            status = target.up(STACK, profile, UpOptions(), Console(quiet=True))
            unhealthy = [(c.name, c.detail) for c in status.components if not c.healthy]
            assert status.healthy, unhealthy
            try:
                yield OnFakeCluster(target.stack(STACK), cluster, minio, backend, trials)
            finally:
                for forwards in opened:
                    forwards.close()


def run_suite(stack: Stack, results: Path) -> tuple[int, list[dict[str, Any]], str]:
    """The shipped suite, in this process, on `stack`; its exit code, result events and output."""
    output = io.StringIO()
    suite = suite_dir()  # the installed suite, as `appliance conformance` finds it
    argv = ["-c", str(suite / "pytest.ini"), "--rootdir", str(suite), "-q",
            "--conformance-results", str(results), *(str(suite / area.module) for area in AREAS)]
    saved = sys.stdout
    sys.stdout = output
    try:
        code = pytest.main(argv, plugins=[GivenStack(stack)])
    finally:
        sys.stdout = saved
    events = [json.loads(line) for line in results.read_text().splitlines()]
    return int(code), events, output.getvalue()


def test_the_shipped_suite_passes_on_a_kind_stack_over_the_fake_cluster(
    kind_stack: OnFakeCluster, tmp_path: Path
) -> None:
    code, events, output = run_suite(kind_stack.stack, tmp_path / "results.jsonl")
    outcomes = {(e["area"], e["id"].split("::", 1)[1]): (e["outcome"], e["message"]) for e in events}
    expected = {(area, name): ("passed", "") for area, names in EXPECTED.items() for name in names}
    assert outcomes == expected, output[-6000:]
    assert code == 0
    # The engine paths were the ones taken: every pipeline (4 in the pipelines area, one gate run
    # per promotion test) went through KFP's REST API and ran on executor pods; trials ran the stub
    # trainer; no pod of any engine was refused (Pod Security, missing Secret or key).
    runs = kind_stack.kfp.runs.values()
    assert sorted(r.state for r in runs) == ["FAILED"] + ["SUCCEEDED"] * 6
    assert all(kind_stack.cluster.list("v1", "Pod", "kubeflow", {WORKFLOW_LABEL: r.workflow})
               for r in runs)
    assert kind_stack.trials and all("stubs.train" in argv for argv in kind_stack.trials)
    refused = [(ns, e["message"]) for ns in ("kubeflow", WORKLOAD_NAMESPACE)
               for e in kind_stack.cluster.events(ns) if e["reason"] == "FailedCreate"]
    assert refused == []
    # FakeCluster prunes and warns as a real API server does, with the bundle's real CRD schemas:
    # nothing the stack applied (bundle, workload access, the suite's Experiments and
    # InferenceServices, the fake controllers' Trials, Jobs and predictors) lost a field.
    assert kind_stack.cluster.warnings == []


def test_workloads_hold_their_purposes_user_and_the_serving_user_only_reads(
    kind_stack: OnFakeCluster,
) -> None:
    import base64

    from minio.error import S3Error

    from appliance.objectstore import ObjectStore

    credentials = RunDir(STACK).load_credentials()
    root = {credentials["object-store-access-key"], credentials["object-store-secret-key"]}

    def keys(name: str, namespace: str) -> list[str]:
        secret = kind_stack.cluster.stored("v1", "Secret", name, namespace)
        return [base64.b64decode(v).decode() for _, v in sorted(secret["data"].items())]

    assert keys("appliance-s3-tuning", WORKLOAD_NAMESPACE) == [
        "appliance-tuning", credentials["object-store-tuning-secret-key"]]
    assert keys("appliance-s3-serving", WORKLOAD_NAMESPACE) == [
        "appliance-serving", credentials["object-store-serving-secret-key"]]
    assert keys("appliance-s3-pipelines", "kubeflow") == [
        "appliance-pipelines", credentials["object-store-pipelines-secret-key"]]
    in_workloads = {v for s in kind_stack.cluster.list("v1", "Secret", WORKLOAD_NAMESPACE)
                    for v in map(lambda b: base64.b64decode(b).decode(), s["data"].values())}
    assert not in_workloads & root
    # Through the S3 API (moto enforcing the users' canned policies): the root user writes, the
    # serving user reads and is refused a write, the tuning user writes.
    endpoint = kind_stack.stack.object_store.endpoint
    kind_stack.stack.object_store.client().put_object("mlpipeline", "access/model.json",
                                                      io.BytesIO(b"{}"), 2)
    serving = ObjectStore(endpoint, "appliance-serving", credentials["object-store-serving-secret-key"])
    assert serving.client().get_object("mlpipeline", "access/model.json").read() == b"{}"
    with pytest.raises(S3Error) as refused:
        serving.client().put_object("mlpipeline", "access/overwrite.json", io.BytesIO(b"{}"), 2)
    assert refused.value.code == "AccessDenied"
    tuning = ObjectStore(endpoint, "appliance-tuning", credentials["object-store-tuning-secret-key"])
    tuning.client().put_object("mlpipeline", "access/trial.json", io.BytesIO(b"{}"), 2)
    with pytest.raises(S3Error) as other_bucket:
        tuning.client().make_bucket("elsewhere")
    assert other_bucket.value.code == "AccessDenied"
