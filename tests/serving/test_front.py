"""The front proxy process against in-process fake backends: exact forwarding, switch, drain, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from appliance.runtime import process
from appliance.runtime.state import write_atomic


@dataclass
class FakeBackend:
    """A keep-alive HTTP server that names itself in every answer; /slow waits for `gate`."""

    tag: str
    gate: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    drops: int = 0  # requests on a /drop path to answer by closing the connection instead

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeBackend:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, payload: dict[str, object]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("x-backend", backend.tag)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/ready"):
                    self._answer(200, {"ready": True, "tag": backend.tag})
                else:
                    self._answer(404, {"error": f"no route {self.path}"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if "slow" in self.path:
                    backend.gate.wait(30)
                if "drop" in self.path and backend.drops > 0:
                    backend.drops -= 1
                    self.close_connection = True  # as a server killed mid-request does
                    return
                self._answer(200, {"tag": backend.tag, "path": self.path, "body": body.decode(),
                                   "content_type": self.headers.get("content-type")})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.gate.set()
            self.server.shutdown()
            self.server.server_close()


@dataclass
class RunningFront:
    pid: int
    port: int
    config: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self) -> dict[str, object]:
        answer: dict[str, object] = requests.get(f"{self.url}/-/front", timeout=5).json()
        return answer

    def switch(self, backend: str, generation: int) -> None:
        write_atomic(self.config, json.dumps({"backend": backend, "generation": generation}))
        os.kill(self.pid, signal.SIGHUP)
        assert process.wait_until(lambda: self.status()["generation"] == generation, 10, 0.02)


def _start_front(tmp_path: Path, backend: str) -> RunningFront:
    config = tmp_path / "front.json"
    write_atomic(config, json.dumps({"backend": backend, "generation": 1}))
    port = process.free_port()
    log = tmp_path / "front.log"
    pid = process.spawn([sys.executable, "-m",
            "appliance.targets.local.serving.front", "--name", "m", "--port", str(port),
                         "--config", str(config), "--run-dir", str(tmp_path)], log)
    front = RunningFront(pid, port, config, log)

    def up() -> bool:
        try:
            front.status()
        except requests.RequestException:
            return False
        return True

    assert process.wait_until(up, 60, 0.05, abort=lambda: None if process.is_alive(pid) else log.read_text())
    return front


@pytest.fixture
def backends() -> Iterator[tuple[FakeBackend, FakeBackend]]:
    a, b = FakeBackend("a").start(), FakeBackend("b").start()
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def front(tmp_path: Path, backends: tuple[FakeBackend, FakeBackend]) -> Iterator[RunningFront]:
    running = _start_front(tmp_path, backends[0].url)
    yield running
    process.stop(running.pid)


def test_forwards_method_path_query_body_and_status_exactly(
    front: RunningFront, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    with requests.Session() as session:  # one keep-alive connection for all requests
        answer = session.post(f"{front.url}/v1/models/m:predict?x=1", json={"instances": [[1, 2]]})
        assert answer.status_code == 200
        assert answer.headers["x-backend"] == "a"
        assert answer.json() == {"tag": "a", "path": "/v1/models/m:predict?x=1",
                                 "body": '{"instances": [[1, 2]]}', "content_type": "application/json"}
        missing = session.get(f"{front.url}/v2/nothing")
        assert (missing.status_code, missing.json()) == (404, {"error": "no route /v2/nothing"})
        assert session.get(f"{front.url}/v2/models/m/ready").json() == {"ready": True, "tag": "a"}
    assert front.status() == {
        "name": "m", "generation": 1, "backend": backends[0].url,
        "backends": [{"url": backends[0].url, "generation": 1, "inflight": 0, "served": 3}],
    }


def test_switch_sends_new_requests_to_the_new_backend_and_drains_the_old(
    front: RunningFront, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    a, b = backends
    slow: dict[str, object] = {}
    worker = threading.Thread(target=lambda: slow.update(
        requests.post(f"{front.url}/v1/models/m/slow", json={}, timeout=30).json()))
    worker.start()
    assert process.wait_until(lambda: front.status()["backends"] == [  # type: ignore[comparison-overlap]
        {"url": a.url, "generation": 1, "inflight": 1, "served": 0}], 10, 0.02)

    front.switch(b.url, 2)
    # The old backend is retired but still counted while its request is in flight.
    assert front.status()["backends"] == [
        {"url": b.url, "generation": 2, "inflight": 0, "served": 0},
        {"url": a.url, "generation": 1, "inflight": 1, "served": 0},
    ]
    assert requests.post(f"{front.url}/v1/models/m:predict", json={}).json()["tag"] == "b"

    a.gate.set()
    worker.join(30)
    assert slow["tag"] == "a"  # the in-flight request finished on the server it started on
    assert process.wait_until(lambda: len(front.status()["backends"]) == 1, 10, 0.02)  # type: ignore[arg-type]
    assert front.status()["backends"] == [{"url": b.url, "generation": 2, "inflight": 0, "served": 1}]


def test_dead_backend_answers_502_with_a_kserve_style_error(
    front: RunningFront, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    backends[0].stop()
    answer = requests.post(f"{front.url}/v1/models/m:predict", json={})
    assert answer.status_code == 502
    assert answer.json()["error"].startswith("front of m: model server unavailable (ClientConnectorError")
    assert requests.get(f"{front.url}/v2/models/m/ready").status_code == 502


def test_a_bad_config_on_reload_is_refused_and_the_backend_kept(
    front: RunningFront, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    front.config.write_text('{"backend": "http://example.com:80", "generation": 9}')
    os.kill(front.pid, signal.SIGHUP)
    assert process.wait_until(lambda: "reload refused" in front.log.read_text(), 10, 0.05)
    assert front.status()["generation"] == 1
    assert requests.post(f"{front.url}/x", json={}).json()["tag"] == "a"
    assert "backend must be http://127.0.0.1:PORT" in front.log.read_text()


def test_a_missing_config_at_start_exits_2_naming_the_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m",
            "appliance.targets.local.serving.front", "--name", "m", "--port", str(process.free_port()),
         "--config", str(tmp_path / "absent.json"), "--run-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert f"error: {tmp_path / 'absent.json'}: FileNotFoundError" in done.stderr


def test_a_connection_closed_before_an_answer_is_retried_once(
    front: RunningFront, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    a = backends[0]
    a.drops = 1
    answer = requests.post(f"{front.url}/v1/models/m/drop", json={})
    assert (answer.status_code, answer.json()["tag"], a.drops) == (200, "a", 0)
    a.drops = 2  # the retry is dropped too: the client gets a 502, not a hang or a reset
    answer = requests.post(f"{front.url}/v1/models/m/drop", json={})
    assert answer.status_code == 502
    assert answer.json()["error"].startswith("front of m: model server unavailable (ServerDisconnectedError")


def test_a_request_cut_on_the_old_server_after_a_switch_is_retried_on_the_new_one(
    front: RunningFront, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    a, b = backends
    a.drops = 1
    b.gate.set()  # the new server answers at once
    cut: dict[str, object] = {}
    worker = threading.Thread(target=lambda: cut.update(
        requests.post(f"{front.url}/v1/models/m/slow-drop", json={}, timeout=30).json()))
    worker.start()
    assert process.wait_until(lambda: front.status()["backends"][0]["inflight"] == 1,  # type: ignore[index]
                              10, 0.02)
    front.switch(b.url, 2)
    a.gate.set()  # the old server now drops the request, as when it is stopped after the drain timeout
    worker.join(30)
    assert cut["tag"] == "b"
