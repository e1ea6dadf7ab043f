"""`appliance up --target kind` as an ordered list of actions, run against fakes at every seam: the
CommandRunner (docker, kind, kubectl with their real texts), the Kubernetes API (FakeCluster), the
forwarder, MinIO's admin API (FakeMinioAdmin) and the bucket check. Nothing here starts a process,
opens a port or sleeps."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fake_runner as texts
import pytest
from fake_cluster import FakeCluster, Fault
from fake_minio import FakeMinioAdmin
from fake_runner import FakeRunner
from kind_machine import CLUSTER, NODE, STACK, healthy_machine, object_store_only

from appliance.console import Console
from appliance.errors import ApplianceError, BadInput, ExternalCommandFailed, MissingPrerequisite
from appliance.objectstore import ObjectStore
from appliance.runtime.state import RunDir
from appliance.targets.cluster.readiness import NotReady
from appliance.targets.cluster.settings import ClusterSettings, Service
from appliance.targets.interface import UpOptions
from appliance.targets.kind.lifecycle import KindTarget


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "home"


class FakeForwarder:
    """Forwards to MinIO, which runs with the root user of the cluster's Secret by then."""

    def __init__(self, cluster: FakeCluster | None = None, minio: FakeMinioAdmin | None = None) -> None:
        self.cluster, self.minio = cluster, minio
        self.started: list[dict[str, Service]] = []
        self.stopped: list[int] = []
        self.running: set[int] = set()

    def start(self, run_dir: Path, settings: ClusterSettings, services: Mapping[str, Service],
              ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        if self.cluster is not None and self.minio is not None:
            self.minio.start_from(self.cluster)
        self.started.append(dict(services))
        self.running.add(4242)
        return 4242, {name: ports.get(name, 40000 + index) for index, name in enumerate(sorted(services))}

    def stop(self, run_dir: Path, pid: int) -> None:
        self.stopped.append(pid)
        self.running.discard(pid)

    def alive(self, run_dir: Path, pid: int) -> bool:
        return pid in self.running


def target_for(cluster: FakeCluster, runner: FakeRunner, forwarder: FakeForwarder,
               bucket_answers: list[str | None] | None = None,
               minio: FakeMinioAdmin | None = None) -> KindTarget:
    answers = list(bucket_answers or [None])
    minio = minio or forwarder.minio or FakeMinioAdmin()
    forwarder.cluster, forwarder.minio = cluster, minio

    def bucket(store: ObjectStore) -> str | None:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def probe(forward: str, url: str, store: ObjectStore) -> tuple[bool, str]:
        return (True, f"{forward} answers at {url}") if forward in forwarded else (False, "no server")

    forwarded = {"object-store"}
    return KindTarget(runner=runner, connect=lambda settings: cluster, clock=cluster.clock,
                      forwarder=forwarder, bucket=bucket, admin=minio.client, which=runner.which,
                      disk_free=lambda path: 100 * 1024**3, probe=probe)


def preload_tags(runner: FakeRunner, bundle_images: list[str]) -> None:
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        [i if "/" in i.split(":")[0] or "." in i.split("/")[0] else f"docker.io/library/{i}"
         for i in bundle_images]))


def test_up_runs_every_action_in_order_and_records_the_stack(tmp_path: Path) -> None:
    cluster, forwarder, minio = FakeCluster(), FakeForwarder(), FakeMinioAdmin()
    run_dir = RunDir(STACK).path
    runner = healthy_machine(cluster, run_dir)
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "docker.io/library/appliance-stubs:dev"]))
    profile = object_store_only(tmp_path)
    err = io.StringIO()
    status = target_for(cluster, runner, forwarder, minio=minio).up(STACK, profile, UpOptions(),
                                                                    Console(err=err))

    steps = [line.rsplit(" (", 1)[0] for line in err.getvalue().splitlines() if line[:1] in "✓✗"]
    assert steps == [
        "✓ render the profile (hardened) and generate credentials",
        "✓ stubs image present",
        "✓ kind cluster (pinned node image)",
        "✓ node Ready, CoreDNS available",
        "✓ kindnet without its CPU limit",
        "✓ node inotify limits",
        "✓ images preloaded into the node",
        "✓ apply: namespaces and CRDs (established)",
        "✓ apply: workloads, RBAC, config, network policies",
        "✓ components ready (data stores, then services)",
        "✓ admission webhooks serving",
        "✓ apply: custom resources",
        "✓ workload access: an S3 Secret per purpose, the model ServiceAccount",
        "✓ port-forwards on 127.0.0.1",
        "✓ object store users: pipelines, tuning, serving",
        "✓ bucket mlpipeline",
    ]
    # MinIO has each purpose's user, with the secret kept in credentials.json, and its policy.
    credentials = RunDir(STACK).load_credentials()
    assert minio.users == {f"appliance-{p}": credentials[f"object-store-{p}-secret-key"]
                           for p in ("pipelines", "tuning", "serving")}
    assert minio.mapping == {"appliance-pipelines": "appliance-pipelines-readwrite",
                             "appliance-tuning": "appliance-tuning-readwrite",
                             "appliance-serving": "appliance-serving-readonly"}
    assert not [v for v in credentials.values() if v in err.getvalue()]  # no secret in the output
    # No workload namespace in this profile: no Secret besides MinIO's own.
    assert [s["metadata"]["name"] for s in cluster.list("v1", "Secret")] == ["minio-credentials"]
    create = runner.called(["kind", "create", "cluster"])[0]
    assert create[:5] == ("kind", "create", "cluster", "--name", CLUSTER)
    assert ("--kubeconfig", str(run_dir / "kubeconfig")) == create[create.index("--kubeconfig"):][:2]
    assert os.stat(run_dir / "kubeconfig").st_mode & 0o777 == 0o600
    assert os.stat(run_dir / "credentials.json").st_mode & 0o777 == 0o600
    assert forwarder.started == [{"object-store": Service("object-store", "minio", 9000)}]
    state = RunDir(STACK).load()
    assert state is not None and state.target == "kind" and state.profile == "store-only"
    settings = ClusterSettings.from_dict(state.settings)
    assert (settings.cluster, settings.context, settings.forwarder_pid) == (CLUSTER, f"kind-{CLUSTER}", 4242)
    assert settings.ports == {"object-store": 40000}
    assert settings.deployments == ("object-store/minio",)
    assert "appliance-workloads" not in settings.namespaces and "object-store" in settings.namespaces
    # Every object carries the stack; no Secret was sent with stringData (the fake refuses it).
    minio = cluster.stored("apps/v1", "Deployment", "minio", "object-store")
    assert minio["metadata"]["labels"]["appliance.dev/stack"] == STACK
    assert [(c.name, c.healthy, c.detail) for c in status.components] == [
        ("kind-cluster", True, "running"), ("api-server", True, "Kubernetes v1.34.11"),
        ("deployment/object-store/minio", True, "ready"),
        ("object-store", True, "object-store answers at http://127.0.0.1:40000")]
    assert status.healthy


def test_a_failure_tears_everything_down_and_writes_diagnostics(tmp_path: Path, home: Path) -> None:
    cluster, forwarder = FakeCluster(), FakeForwarder()
    runner = healthy_machine(cluster, RunDir(STACK).path)
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "docker.io/library/appliance-stubs:dev"]))
    runner.on(["kind", "export", "logs"], "")
    cluster.fault("object-store", "minio",
                  Fault("CrashLoopBackOff", previous_log="minio: FATAL unable to use drive /data"))
    err = io.StringIO()
    with pytest.raises(NotReady) as failed:
        target_for(cluster, runner, forwarder).up(STACK, object_store_only(tmp_path), UpOptions(timeout=600),
                                                  Console(err=err))
    assert "Deployment object-store/minio" in failed.value.render()
    assert "minio: FATAL unable to use drive /data" in failed.value.render()
    assert runner.called(["kind", "delete", "cluster"])  # undone: the cluster is gone
    assert not RunDir(STACK).exists()
    diagnostics = list((home / "diagnostics").glob("dev-*"))
    assert len(diagnostics) == 1 and (diagnostics[0] / "summary.md").is_file()
    assert "minio: FATAL unable to use drive /data" in (diagnostics[0] / "summary.md").read_text()
    assert f"diagnostics written to {diagnostics[0]}" in err.getvalue()
    assert forwarder.started == []


def test_minio_refusing_its_admin_api_fails_up_and_tears_it_down(tmp_path: Path) -> None:
    cluster, forwarder, minio = FakeCluster(), FakeForwarder(), FakeMinioAdmin()
    runner = healthy_machine(cluster, RunDir(STACK).path)
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "docker.io/library/appliance-stubs:dev"]))
    runner.on(["kind", "export", "logs"], "")
    target = target_for(cluster, runner, forwarder, minio=minio)
    forwarder.minio = None  # MinIO started with another root user than the Secret's
    minio.start("other-root", "other-root-secret")
    err = io.StringIO()
    with pytest.raises(ApplianceError) as failed:
        target.up(STACK, object_store_only(tmp_path), UpOptions(), Console(err=err))
    assert (failed.value.exit_code, failed.value.what) == (
        4, "MinIO refused to set up user appliance-pipelines")
    assert "InvalidAccessKeyId" in failed.value.why
    assert "✗ object store users: pipelines, tuning, serving" in err.getvalue()
    assert minio.users == {} and forwarder.stopped == [4242]  # undone: the forward stopped
    assert runner.called(["kind", "delete", "cluster"]) and not RunDir(STACK).exists()


def test_retain_keeps_the_cluster_and_the_state_for_debugging(tmp_path: Path) -> None:
    cluster, forwarder = FakeCluster(), FakeForwarder()
    runner = healthy_machine(cluster, RunDir(STACK).path)
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images([]))  # nothing got loaded
    with pytest.raises(ExternalCommandFailed) as failed:
        target_for(cluster, runner, forwarder).up(STACK, object_store_only(tmp_path), UpOptions(retain=True),
                                                  Console(quiet=True))
    assert failed.value.why == "2 of 2 images missing after 'kind load image-archive'"
    assert "not in node: quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z" in failed.value.output
    assert not runner.called(["kind", "delete", "cluster"])
    assert RunDir(STACK).load() is not None
    # down removes what --retain kept, with the state as it was left.
    assert target_for(cluster, runner, forwarder).down(STACK, Console(quiet=True)) is True
    assert runner.called(["kind", "delete", "cluster"]) and not RunDir(STACK).exists()


def test_a_second_identical_up_is_a_no_op_and_a_conflicting_one_is_refused(tmp_path: Path) -> None:
    cluster, forwarder = FakeCluster(), FakeForwarder()
    runner = healthy_machine(cluster, RunDir(STACK).path)
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "docker.io/library/appliance-stubs:dev"]))
    target = target_for(cluster, runner, forwarder)
    profile = object_store_only(tmp_path)
    target.up(STACK, profile, UpOptions(), Console(quiet=True))
    target.status = lambda name: _healthy(name)  # type: ignore[method-assign]
    creates = len(runner.called(["kind", "create"]))
    err = io.StringIO()
    target.up(STACK, profile, UpOptions(), Console(err=err))
    assert len(runner.called(["kind", "create"])) == creates
    assert "stack 'dev' already up (kind, store-only)" in err.getvalue()
    with pytest.raises(BadInput, match="already up with object store port 40000 \\(asked: 9999\\)"):
        target.up(STACK, profile, UpOptions(port=9999), Console(quiet=True))


def _healthy(name: str) -> Any:
    from appliance.targets.interface import ComponentStatus, StackStatus

    return StackStatus(name, "kind", "store-only", 1.0, (ComponentStatus("api-server", "", True, "ok"),))


def test_a_cluster_without_state_is_refused_and_down_deletes_it(tmp_path: Path) -> None:
    cluster, forwarder = FakeCluster(), FakeForwarder()
    runner = healthy_machine(cluster, RunDir(STACK).path, exists=True)
    target = target_for(cluster, runner, forwarder)
    with pytest.raises(BadInput) as refused:
        target.up(STACK, object_store_only(tmp_path), UpOptions(), Console(quiet=True))
    assert refused.value.what == f"a kind cluster '{CLUSTER}' exists but stack 'dev' has no state"
    assert refused.value.fix == "run 'appliance down --name dev' (it deletes the cluster), then up again"
    assert target.down(STACK, Console(quiet=True)) is True
    assert runner.called(["kind", "delete", "cluster", "--name", CLUSTER])


def test_down_with_nothing_up_is_a_no_op() -> None:
    cluster, forwarder = FakeCluster(), FakeForwarder()
    runner = healthy_machine(cluster, RunDir(STACK).path)
    assert target_for(cluster, runner, forwarder).down(STACK, Console(quiet=True)) is False
    assert not runner.called(["kind", "delete", "cluster"])


def test_up_on_a_machine_without_docker_refuses_before_touching_anything(tmp_path: Path) -> None:
    runner = FakeRunner(missing=["kind"])
    runner.on(["docker", "info"], texts.DOCKER_INFO_DAEMON_DOWN, returncode=1)
    runner.on(["kubectl", "version"], texts.kubectl_version_client("v1.34.4"))
    runner.on(["kind", "get", "clusters"], texts.KIND_NO_CLUSTERS)
    target = KindTarget(runner=runner, connect=lambda s: FakeCluster(), which=runner.which,
                        disk_free=lambda path: 100 * 1024**3)
    with pytest.raises(MissingPrerequisite) as refused:
        target.up(STACK, object_store_only(tmp_path), UpOptions(), Console(quiet=True))
    assert refused.value.exit_code == 3
    rendered = refused.value.render()
    assert "✗ docker daemon: Cannot connect to the Docker daemon" in rendered
    assert "✗ kind: not installed (fix: install kind v0.33.0" in rendered
    assert not RunDir(STACK).exists()
    assert not runner.called(["kind", "create"])


def test_an_unschedulable_component_is_explained_with_dockers_memory(tmp_path: Path) -> None:
    cluster, forwarder = FakeCluster(node_memory=128 * 1024**2), FakeForwarder()  # minio asks 256Mi
    runner = healthy_machine(cluster, RunDir(STACK).path, docker_gib=6)  # enough to start, < 8 GiB
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "docker.io/library/appliance-stubs:dev"]))
    runner.on(["kind", "export", "logs"], "")
    err = io.StringIO()
    with pytest.raises(NotReady) as failed:
        target_for(cluster, runner, forwarder).up(STACK, object_store_only(tmp_path), UpOptions(),
                                                  Console(err=err))
    rendered = failed.value.render()
    assert "Insufficient memory" in rendered
    assert ("Docker has 6 GiB; the store-only profile needs 8 GiB; raise Docker's memory and run "
            "'appliance up' again") in rendered
