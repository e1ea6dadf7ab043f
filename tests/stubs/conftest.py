"""Fixtures for the stub tests: start `python -m stubs.server` as a real subprocess on a free port."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.runtime.process import free_port


@dataclass
class Served:
    port: int
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """One request on a kept-alive connection; returns (status, decoded JSON body)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"content-type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, json.loads(payload) if payload else None


def start_server(
    model_uri: str, log: Path, name: str | None = None, env: dict[str, str] | None = None
) -> Served:
    port = free_port()
    argv = [sys.executable, "-m", "stubs.server", "--model-uri", model_uri, "--port", str(port)]
    if name:
        argv += ["--name", name]
    handle = open(log, "wb")  # noqa: SIM115 - the child owns it for its lifetime
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)
    handle.close()
    served = Served(port, name or "", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            conn = served.connection()
            status, body = request(conn, "GET", "/v2/health/ready")
            conn.close()
            if status == 200 and body == {"ready": True}:
                return served
        except OSError:
            pass
        time.sleep(0.1)
    served.stop()
    raise AssertionError(f"server not ready in 60 s: {log.read_text()[-2000:]}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def make(model_uri: str, name: str | None = None, env: dict[str, str] | None = None) -> Served:
        served = start_server(model_uri, tmp_path / f"server-{len(started)}.log", name, env)
        started.append(served)
        return served

    yield make
    for served in started:
        served.stop()


@pytest.fixture
def http_json() -> Callable[..., tuple[int, Any]]:
    """The `request` helper, as a fixture (conftest modules are not importable by tests)."""
    return request


@dataclass
class StubService:
    served: Served
    rows: list[Any]
    expected: list[int]


@pytest.fixture(scope="module")
def stub_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubService]:
    """One running server for a model of accuracy 0.9 (a) / 0.75 (b) on a 200-row dataset."""
    from stubs import dataset, model

    folder = tmp_path_factory.mktemp("stub-service")
    artifact = model.create("churn", "7", 0.84, {"a": 0.9, "b": 0.75})
    model.save(artifact, str(folder / "model.json"))
    rows = dataset.rows_of("serve", 200, 5)
    expected = model.from_artifact(artifact).predict([r.features for r in rows])
    served = start_server(str(folder / "model.json"), folder / "server.log")
    served.name = "churn"
    try:
        yield StubService(served, rows, expected)
    finally:
        served.stop()
