"""`appliance up --target kube --context C`: an existing cluster (FakeCluster), its checks, the refusal
to adopt foreign namespaces, and `down` deleting what carries the stack's labels."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import fake_runner as texts
import pytest
from fake_cluster import FakeCluster
from fake_minio import FakeMinioAdmin
from fake_runner import FakeRunner

from appliance.config import profile as profiles
from appliance.console import Console
from appliance.errors import MissingPrerequisite
from appliance.objectstore import ObjectStore
from appliance.runtime import process
from appliance.runtime.state import RunDir
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.settings import ClusterSettings, Service
from appliance.targets.interface import UpOptions
from appliance.targets.kube.target import KubeTarget

OPTIONS = UpOptions(context="kind-ext", stubs_image="registry.example/appliance-stubs:1")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    return tmp_path / "home"


class Forwards:
    """Forwards to MinIO, which runs with the root user of the cluster's Secret by then."""

    def __init__(self) -> None:
        self.running: set[int] = set()
        self.minio = FakeMinioAdmin()
        self.cluster: FakeCluster | None = None

    def start(self, run_dir: Path, settings: ClusterSettings, services: Mapping[str, Service],
              ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        assert self.cluster is not None
        self.minio.start_from(self.cluster)
        self.running.add(77)
        return 77, {name: 41000 for name in services}

    def stop(self, run_dir: Path, pid: int) -> None:
        self.running.discard(pid)

    def alive(self, run_dir: Path, pid: int) -> bool:
        return pid in self.running


def existing_cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.apply([{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                    "metadata": {"name": "standard",
                                 "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                    "provisioner": "rancher.io/local-path"}])
    return cluster


def machine() -> FakeRunner:
    runner = FakeRunner()
    runner.on(["kubectl", "version"], texts.kubectl_version_client("v1.34.4"))
    runner.on(["kubectl", "config", "get-contexts"], "kind-ext\n")
    return runner


def target(cluster: FakeCluster, runner: FakeRunner, forwards: Forwards) -> KubeTarget:
    forwards.cluster = cluster
    return KubeTarget(runner=runner, connect=lambda settings, run_dir: cluster, clock=cluster.clock,
                      forwarder=forwards, bucket=lambda store: None, admin=forwards.minio.client,
                      which=runner.which, probe=lambda forward, url, store: (True, "ok"))


def store_only(tmp_path: Path) -> profiles.Profile:
    path = tmp_path / "store.yaml"
    path.write_text(json.dumps({"apiVersion": profiles.API_VERSION, "kind": "Profile",
                                "metadata": {"name": "store-only"},
                                "spec": {"components": ["object-store"]}}))
    return profiles.load(str(path))


def test_up_checks_the_cluster_applies_and_down_deletes_by_the_record(tmp_path: Path) -> None:
    cluster, forwards = existing_cluster(), Forwards()
    kube = target(cluster, machine(), forwards)
    err = io.StringIO()
    status = kube.up("ext", store_only(tmp_path), OPTIONS, Console(err=err))
    assert status.healthy and status.target == "kube"
    assert "✓ cluster: version, permissions, default StorageClass, namespace ownership" in err.getvalue()
    assert "✓ object store users: pipelines, tuning, serving" in err.getvalue()
    assert sorted(forwards.minio.mapping) == ["appliance-pipelines", "appliance-serving", "appliance-tuning"]
    namespace = cluster.stored("v1", "Namespace", "object-store")
    assert namespace["metadata"]["labels"]["appliance.dev/stack"] == "ext"
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "appliance"
    settings = ClusterSettings.from_dict(RunDir("ext").load().settings)  # type: ignore[union-attr]
    assert (settings.context, settings.stubs_image, settings.cluster) == (
        "kind-ext", "registry.example/appliance-stubs:1", "")
    assert settings.kubeconfig == Path(os.environ["KUBECONFIG"])  # read, never written

    err = io.StringIO()
    assert kube.down("ext", Console(err=err)) is True
    assert cluster.get(ObjRef("v1", "Namespace", "object-store")) is None  # waited until it was gone
    assert cluster.get(ObjRef("storage.k8s.io/v1", "StorageClass", "standard")) is not None  # not ours
    assert "CRDs kept: --delete-crds removes them" in err.getvalue()
    assert not RunDir("ext").exists() and forwards.running == set()
    assert kube.down("ext", Console(quiet=True)) is False


def test_foreign_namespaces_are_never_adopted(tmp_path: Path) -> None:
    cluster, forwards = existing_cluster(), Forwards()
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "object-store"}}])
    with pytest.raises(MissingPrerequisite) as refused:
        target(cluster, machine(), forwards).up("ext", store_only(tmp_path), OPTIONS, Console(quiet=True))
    expected = "✗ namespaces: owned by others: object-store (not created by the appliance)"
    assert expected in refused.value.render()
    assert cluster.get(ObjRef("v1", "Namespace", "object-store")) is not None  # left alone
    assert not RunDir("ext").exists()


def test_a_second_stack_on_the_same_cluster_is_refused(tmp_path: Path) -> None:
    cluster, forwards = existing_cluster(), Forwards()
    target(cluster, machine(), forwards).up("one", store_only(tmp_path), OPTIONS, Console(quiet=True))
    with pytest.raises(MissingPrerequisite) as refused:
        target(cluster, machine(), forwards).up("two", store_only(tmp_path), OPTIONS, Console(quiet=True))
    assert "object-store (stack 'one')" in refused.value.render()


def test_missing_rights_storage_class_and_old_servers_are_named(tmp_path: Path) -> None:
    cluster = FakeCluster(version="v1.29.3")
    cluster.denied.add(("create", "apiextensions.k8s.io", "customresourcedefinitions"))
    with pytest.raises(MissingPrerequisite) as refused:
        target(cluster, machine(), Forwards()).up("ext", store_only(tmp_path), OPTIONS, Console(quiet=True))
    rendered = refused.value.render()
    assert "✗ server version: v1.29.3 (fix: use a cluster running Kubernetes 1.30 or newer)" in rendered
    assert "✗ permissions: not allowed: create customresourcedefinitions" in rendered
    assert "✗ default StorageClass: none" in rendered


def test_up_without_context_or_stubs_image_says_what_to_pass(tmp_path: Path) -> None:
    runner = machine()
    kube = target(existing_cluster(), runner, Forwards())
    checks = kube.preflight(store_only(tmp_path), UpOptions())
    assert [(c.name, c.ok, c.fix) for c in checks] == [
        ("kube context", False, "pass --context NAME (see 'kubectl config get-contexts')"),
        ("stubs image", False, "build stubs/Dockerfile (make image), push it where the cluster can pull it, "
                               "and pass --stubs-image REF"),
    ]
    assert runner.calls == []


def test_store_probe_and_bucket_seams_are_used(tmp_path: Path) -> None:
    seen: list[str] = []
    cluster, forwards = existing_cluster(), Forwards()
    forwards.cluster = cluster
    kube = KubeTarget(runner=machine(), connect=lambda s, r: cluster, clock=cluster.clock, forwarder=forwards,
                      bucket=lambda store: seen.append(store.endpoint) or None, admin=forwards.minio.client,
                      which=lambda name: name,
                      probe=lambda forward, url, store: (isinstance(store, ObjectStore), url))
    status = kube.up("ext", store_only(tmp_path), OPTIONS, Console(quiet=True))
    assert seen == ["http://127.0.0.1:41000"]
    assert [(c.name, c.healthy, c.detail) for c in status.components][-1] == (
        "object-store", True, "http://127.0.0.1:41000")


@pytest.mark.integration  # one real background process, marked as a registry follower is
def test_down_stops_the_stacks_local_processes_before_it_deletes_anything(tmp_path: Path) -> None:
    cluster, forwards = existing_cluster(), Forwards()
    kube = target(cluster, machine(), forwards)
    kube.up("ext", store_only(tmp_path), OPTIONS, Console(quiet=True))
    run_dir = RunDir("ext").path
    # Any process carrying the run dir on its command line, as followers and forwards do.
    pid = process.spawn([sys.executable, "-c", "import time; time.sleep(120)", "--run-dir", str(run_dir)],
                        tmp_path / "marked.log")
    assert process.wait_until(lambda: pid in process.marked_pids(str(run_dir)), 10)
    alive_at_delete: list[bool] = []
    delete = cluster.delete

    def observed(ref: ObjRef, propagation: str = "Foreground") -> bool:
        alive_at_delete.append(process.is_alive(pid))
        return delete(ref, propagation)

    cluster.delete = observed  # type: ignore[method-assign]
    try:
        assert kube.down("ext", Console(quiet=True)) is True
    finally:
        process.stop(pid)
    # A follower left running could deploy again what down deletes: it was gone before the first delete.
    assert alive_at_delete and not any(alive_at_delete)
