"""The kind bring-up with its forward routed to a real S3 server: the bucket is created, `status`
probes it with a signed request, and the Stack's object store is usable, all over real HTTP.

moto serves S3 but not MinIO's admin API (/minio/admin/v3/...), so the MinIO users are created
through the admin seam's fake (FakeMinioAdmin) here; test_object_store.py drives the real
minio.MinioAdmin over HTTP, and the conformance run on the fake cluster uses the users' keys."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import fake_runner as texts
import pytest
from fake_cluster import FakeCluster
from fake_minio import FakeMinioAdmin
from kind_machine import CLUSTER, NODE, STACK, healthy_machine, object_store_only
from moto.server import ThreadedMotoServer

from appliance.console import Console
from appliance.runtime.process import free_port
from appliance.runtime.state import RunDir
from appliance.targets.cluster.settings import ClusterSettings, Service
from appliance.targets.interface import UpOptions
from appliance.targets.kind.lifecycle import KindTarget

pytestmark = pytest.mark.integration  # a real S3 server on 127.0.0.1


@pytest.fixture
def s3() -> Iterator[int]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


class ToMoto:
    """A forwarder whose object-store forward is a real S3 server (moto standing in for MinIO)."""

    def __init__(self, port: int, cluster: FakeCluster) -> None:
        self.port, self.cluster = port, cluster
        self.minio = FakeMinioAdmin()
        self.running: set[int] = set()

    def start(self, run_dir: Path, settings: ClusterSettings, services: Mapping[str, Service],
              ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        self.minio.start_from(self.cluster)
        self.running.add(99)
        return 99, {"object-store": self.port}

    def stop(self, run_dir: Path, pid: int) -> None:
        self.running.discard(pid)

    def alive(self, run_dir: Path, pid: int) -> bool:
        return pid in self.running


def test_the_bucket_and_the_store_work_through_the_forward(
    s3: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path / "cache"))
    cluster = FakeCluster()
    runner = healthy_machine(cluster, RunDir(STACK).path)
    runner.on(["docker", "exec", NODE, "crictl"], texts.crictl_images(
        ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "docker.io/library/appliance-stubs:dev"]))
    forwarder = ToMoto(s3, cluster)
    target = KindTarget(runner=runner, connect=lambda settings: cluster, clock=cluster.clock,
                        forwarder=forwarder, admin=forwarder.minio.client, which=runner.which,
                        disk_free=lambda path: 100 * 1024**3)
    status = target.up(STACK, object_store_only(tmp_path), UpOptions(), Console(quiet=True))
    assert status.healthy
    assert [(c.name, c.healthy, c.detail) for c in status.components][-1] == (
        "object-store", True, "ok")
    stack = target.stack(STACK)
    client = stack.object_store.client()
    client.put_object("mlpipeline", "hello.txt", __import__("io").BytesIO(b"hi"), 2)
    assert client.get_object("mlpipeline", "hello.txt").read() == b"hi"
    assert stack.env()["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{s3}"
    assert stack.env()["KUBECONFIG"] == str(RunDir(STACK).path / "kubeconfig")
    credentials = json.loads((RunDir(STACK).path / "credentials.json").read_text())
    assert stack.env()["AWS_SECRET_ACCESS_KEY"] == credentials["object-store-secret-key"]
    assert sorted(forwarder.minio.mapping) == ["appliance-pipelines", "appliance-serving", "appliance-tuning"]
    # The forwarder dies: status says so instead of probing a dead port.
    forwarder.running.clear()
    after = target.status(STACK)
    assert after is not None and not after.healthy
    assert [(c.name, c.healthy, c.detail) for c in after.components][-1] == (
        "object-store", False, "port-forwarder not running")
    assert target.down(STACK, Console(quiet=True)) is True
    assert runner.called(["kind", "delete", "cluster", "--name", CLUSTER])
