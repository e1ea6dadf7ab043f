"""The forwarder's background entry point, run for real as the kind target will start it: a
spawned `python -m appliance.targets.cluster.forward --run-dir DIR` talking to a local HTTP fake
of the API server, with a stand-in `kubectl` that records its arguments (no cluster here)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_api_server import kubeconfig, running

from appliance.runtime.process import is_alive, spawn
from appliance.targets.cluster.forward import ForwardSpec, command, kubectl_argv, write_config

pytestmark = pytest.mark.integration

POD = {"metadata": {"name": "minio-1", "namespace": "object-store", "labels": {"app": "minio"},
                    "creationTimestamp": "2026-01-01T00:00:00Z"},
       "spec": {"containers": [{"name": "minio", "ports": [{"name": "s3", "containerPort": 9000}]}]},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "minio", "namespace": "object-store"},
           "spec": {"selector": {"app": "minio"},
                    "ports": [{"name": "s3", "port": 9000, "targetPort": "s3"}]}}


def wait(predicate: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_supervisor_starts_kubectl_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    stand_in = tmp_path / "kubectl"
    record = tmp_path / "kubectl.args"
    stand_in.write_text(f'#!/bin/sh\necho "$$ $*" > {record}\nexec sleep 300\n')
    stand_in.chmod(0o755)
    with running() as api:
        api.answers[("GET", "/api/v1/namespaces/object-store/services/minio")] = (200, SERVICE)
        api.answers[("GET", "/api/v1/namespaces/object-store/pods")] = (
            200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [POD]})
        api.answers[("GET", "/api/v1/namespaces/object-store/pods/minio-1")] = (
            200, {"kind": "Pod", "apiVersion": "v1", **POD})
        config = kubeconfig(tmp_path / "kubeconfig", api.url)
        write_config(tmp_path, config, "appliance",
                     [ForwardSpec("object-store", "object-store", "minio", 9000, 41000)])
        log = tmp_path / "forwarder.log"
        pid = spawn([*command(tmp_path), "--kubectl", str(stand_in)], log)
        try:
            assert wait(record.exists), log.read_text()
            assert wait(lambda: " " in record.read_text())
            kubectl_pid, args = record.read_text().strip().split(" ", 1)
            expected = kubectl_argv(config, "appliance", "object-store", "minio-1", 41000, 9000)[1:]
            assert args == " ".join(expected)
            os.kill(pid, signal.SIGTERM)
            assert wait(lambda: not is_alive(pid), 30)
            assert not is_alive(int(kubectl_pid))
        finally:
            if is_alive(pid):
                os.killpg(pid, signal.SIGKILL)
    assert "object-store: 127.0.0.1:41000 -> object-store/pod/minio-1:9000" in log.read_text()
