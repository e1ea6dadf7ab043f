"""The port-forward supervisor over the FakeCluster with a fake launcher: no process, no port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cluster_objects import container, deployment, namespace, service
from fake_cluster import FakeCluster

from appliance.targets.cluster.client import ApiError, ObjRef
from appliance.targets.cluster.forward import (
    Forwarder,
    ForwardSpec,
    choose_ports,
    command,
    container_port,
    kubectl_argv,
    main,
    read_config,
    write_config,
)


class FakeForward:
    def __init__(self, launcher: FakeLauncher, target: tuple[str, str, int, int]) -> None:
        self.launcher = launcher
        self.target = target
        self.running = True

    def alive(self) -> bool:
        return self.running

    def stop(self) -> None:
        self.running = False
        self.launcher.stopped.append(self.target)


class FakeLauncher:
    def __init__(self) -> None:
        self.started: list[tuple[str, str, int, int]] = []
        self.stopped: list[tuple[str, str, int, int]] = []
        self.forwards: list[FakeForward] = []

    def start(self, namespace: str, pod: str, local_port: int, remote_port: int) -> FakeForward:
        target = (namespace, pod, local_port, remote_port)
        self.started.append(target)
        self.forwards.append(FakeForward(self, target))
        return self.forwards[-1]


MINIO = ForwardSpec("object-store", "object-store", "minio", 9000, 41000)


def minio_cluster() -> FakeCluster:
    cluster = FakeCluster()
    minio = deployment("minio", namespace="object-store",
                       containers=[container("minio", ports=[{"name": "s3", "containerPort": 9000}])])
    svc = service("minio", namespace="object-store", port=9000, target="s3")
    cluster.apply([namespace("object-store"), minio, svc])
    return cluster


def pod_names(cluster: FakeCluster) -> list[str]:
    return [p["metadata"]["name"] for p in cluster.list("v1", "Pod", "object-store")]


def test_forwards_to_a_ready_pod_and_moves_when_it_goes() -> None:
    cluster = minio_cluster()
    launcher = FakeLauncher()
    log: list[str] = []
    forwarder = Forwarder(cluster, launcher, [MINIO], cluster.clock, log=log.append)
    forwarder.tick()
    assert launcher.started == []
    assert log == ["object-store: waiting for a ready pod behind object-store/minio"]
    cluster.advance(10)
    forwarder.tick()
    [first] = pod_names(cluster)
    assert launcher.started == [("object-store", first, 41000, 9000)]
    forwarder.tick()  # nothing to do while the pod is fine
    assert len(launcher.started) == 1

    cluster.delete(ObjRef("v1", "Pod", first, "object-store"))
    forwarder.tick()
    assert launcher.stopped == [("object-store", first, 41000, 9000)]
    assert log[-2:] == [f"object-store: pod {first} is terminating; moving the forward",
                        "object-store: waiting for a ready pod behind object-store/minio"]
    cluster.advance(10)
    forwarder.tick()
    [second] = pod_names(cluster)
    assert second != first
    assert launcher.started[-1] == ("object-store", second, 41000, 9000)  # same local port


def test_a_dead_port_forward_is_restarted_on_the_same_pod() -> None:
    cluster = minio_cluster()
    cluster.advance(10)
    launcher = FakeLauncher()
    forwarder = Forwarder(cluster, launcher, [MINIO], cluster.clock, log=lambda _: None)
    forwarder.tick()
    launcher.forwards[0].running = False  # kubectl exited (broken pipe, API server restart)
    forwarder.tick()
    assert [t[1] for t in launcher.started] == pod_names(cluster) * 2


def test_run_loops_on_the_clock_and_stops_its_forwards() -> None:
    cluster = minio_cluster()
    launcher = FakeLauncher()
    forwarder = Forwarder(cluster, launcher, [MINIO], cluster.clock, log=lambda _: None)
    forwarder.run(lambda: cluster.now >= 20, interval=1.0)
    assert len(launcher.started) == 1
    assert launcher.stopped == launcher.started
    assert cluster.clock.slept == [1.0] * 20


def test_api_errors_do_not_stop_the_supervisor() -> None:
    cluster = minio_cluster()
    cluster.advance(10)
    log: list[str] = []
    forwarder = Forwarder(cluster, FakeLauncher(), [MINIO], cluster.clock, log=log.append)
    cluster.fail_next(ApiError(0, "Unreachable", "connection refused"), method="get")
    forwarder.tick()
    assert log == ["object-store: API error (connection refused); retrying"]
    forwarder.tick()
    assert log[-1].startswith("object-store: 127.0.0.1:41000 -> object-store/pod/minio-")


def test_ports_resolve_by_number_name_and_named_target() -> None:
    svc = service("ml-pipeline", port=8888, target=8888)
    svc["spec"]["ports"].append({"name": "grpc", "port": 8887, "targetPort": "grpc"})
    pod = {"spec": {"containers": [{"name": "api", "ports": [{"name": "grpc", "containerPort": 8887}]}]}}
    assert container_port(svc, pod, 8888) == 8888
    assert container_port(svc, pod, "https") == 8888
    assert container_port(svc, pod, "grpc") == 8887
    assert container_port(svc, pod, 1234) is None


def test_local_ports_are_kept_once_chosen() -> None:
    picks = iter([41000, 41000, 41001])
    assert choose_ports(["object-store", "pipelines"], {}, lambda: next(picks)) == {
        "object-store": 41000, "pipelines": 41001}
    assert choose_ports(["object-store", "pipelines"], {"pipelines": 5000}, lambda: 41002) == {
        "pipelines": 5000, "object-store": 41002}


def test_config_round_trip_and_the_commands(tmp_path: Path) -> None:
    specs = [MINIO, ForwardSpec("pipelines", "kubeflow", "ml-pipeline", "http", 41001)]
    path = write_config(tmp_path, tmp_path / "kubeconfig", "kind-appliance-default", specs)
    assert json.loads(path.read_text())["context"] == "kind-appliance-default"
    assert read_config(tmp_path) == (tmp_path / "kubeconfig", "kind-appliance-default", specs)
    assert command(tmp_path)[1:] == ["-m", "appliance.targets.cluster.forward", "--run-dir", str(tmp_path)]
    assert kubectl_argv(tmp_path / "kc", "kind-x", "object-store", "minio-abc", 41000, 9000) == [
        "kubectl", "port-forward", "--kubeconfig", str(tmp_path / "kc"), "--context", "kind-x",
        "-n", "object-store", "pod/minio-abc", "41000:9000", "--address", "127.0.0.1"]


def test_main_without_configuration_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--run-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'forwards.json'} not found: the forwarder has no configuration "
        "(fix: run 'appliance up' to write it)\n")
    (tmp_path / "forwards.json").write_text("{}")
    assert main(["--run-dir", str(tmp_path)]) == 2
    assert "is not a forwarder configuration" in capsys.readouterr().err
