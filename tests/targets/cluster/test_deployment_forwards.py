"""One supervised forwarder process per serving deployment: started once, kept, found by the run dir,
stopped by remove (real processes: integration tier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.runtime import process
from appliance.targets.cluster.deployment_forwards import ProcessForwards
from appliance.targets.cluster.settings import ClusterSettings

pytestmark = pytest.mark.integration

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: kind-x, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: not-a-secret}}]
current-context: kind-x
"""


def test_a_forward_per_deployment_is_kept_found_and_removed(tmp_path: Path) -> None:
    run_dir = tmp_path / "stacks" / "dev"
    run_dir.mkdir(parents=True)
    kubeconfig = run_dir / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    forwards = ProcessForwards(run_dir, ClusterSettings(kubeconfig, "kind-x"))
    port = forwards.ensure("serve/iris", "appliance-workloads", "iris-predictor", 80)
    folder = run_dir / "forwards" / "serve-iris"
    record = json.loads((folder / "forward.json").read_text())
    config = json.loads((folder / "forwards.json").read_text())
    try:
        assert record["port"] == port
        assert config["forwards"] == [{"name": "serve/iris", "namespace": "appliance-workloads",
                                       "service": "iris-predictor", "port": 80, "local_port": port}]
        # The API server is unreachable: the supervisor logs that and keeps trying, alive.
        assert process.wait_until(lambda: process.is_alive(record["pid"], str(folder)), 10)
        assert forwards.ensure("serve/iris", "appliance-workloads", "iris-predictor", 80) == port
        assert record["pid"] in process.marked_pids(str(run_dir))  # `down` finds it by the run dir
    finally:
        forwards.remove("serve/iris")
    assert not process.is_alive(record["pid"]) and not folder.exists()


def test_two_callers_at_once_share_one_forwarder(tmp_path: Path) -> None:
    """A command and a registry follower asking for the same port together: one process, one port."""
    import threading

    run_dir = tmp_path / "stacks" / "dev"
    run_dir.mkdir(parents=True)
    kubeconfig = run_dir / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    start = threading.Barrier(4)
    ports: list[int] = []

    def ask() -> None:
        forwards = ProcessForwards(run_dir, ClusterSettings(kubeconfig, "kind-x"))
        start.wait()
        ports.append(forwards.ensure("serve/iris", "appliance-workloads", "iris-predictor", 80))

    callers = [threading.Thread(target=ask) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(60)
    folder = run_dir / "forwards" / "serve-iris"
    try:
        assert len(ports) == 4 and len(set(ports)) == 1
        assert len(process.marked_pids(str(folder))) == 1
    finally:
        ProcessForwards(run_dir, ClusterSettings(kubeconfig, "kind-x")).remove("serve/iris")
    assert process.marked_pids(str(folder)) == []
