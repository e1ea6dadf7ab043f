"""A Forwards for the integration tier: real stub model servers behind stable local ports.

Each forward is a small HTTP proxy on its own 127.0.0.1 port. Each request goes to the pod the
fake forwarder reaches (the oldest Ready, non-terminating pod behind the Service), and each such
pod is a real `python -m stubs.server` process started from the pod's own container command:
the InferenceService the engine wrote, with the storage-initializer's download done from the
object store first (s3://bucket/key -> <dir>/<basename>, as KServe does for a single object), with
the keys of the Secret its env names (the predictors' read-only MinIO user), as the pod would.
Two changes, both for the test machine: `--host 127.0.0.1` (the pod's 0.0.0.0 is checked by its
own test) and a free `--port`. As the supervised forwarder does, a refused connection is retried
once on a fresh route; a pod that left the cluster has its server stopped with SIGTERM.

Routes are computed in the cluster's thread (a FakeCluster controller, every tick) and only read
by the proxy threads, so the fake cluster is never touched from two threads.
"""

from __future__ import annotations

import base64
import http.client
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fake_cluster import FakeCluster
from fake_controllers import FakeForwards

from appliance.objectstore import ObjectStore
from appliance.runtime.process import free_port
from stubs import uri as uris

START_TIMEOUT = 60.0


@dataclass
class _Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


class StubServerForwards(FakeForwards):
    def __init__(self, cluster: FakeCluster, store: ObjectStore, work: Path) -> None:
        super().__init__(cluster)
        self.store = store
        self.work = work
        self._proxies: dict[str, ThreadingHTTPServer] = {}
        self._servers: dict[str, _Server] = {}  # pod uid -> its stub server
        self._routes: dict[str, int | None] = {}  # forward -> backend port
        self._lock = threading.Lock()
        cluster.controllers.append(self._sync)

    # -- Forwards --------------------------------------------------------------------------------

    def ensure(self, name: str, namespace: str, service: str, port: int) -> int:
        if name not in self._proxies:
            proxy = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, name))
            proxy.daemon_threads = True
            threading.Thread(target=proxy.serve_forever, daemon=True).start()
            self._proxies[name] = proxy
            self.ports[name] = proxy.server_address[1]
        self.targets[name] = (namespace, service, port)
        self._sync(self.cluster)
        return self.ports[name]

    def remove(self, name: str) -> None:
        proxy = self._proxies.pop(name, None)
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        with self._lock:
            self._routes.pop(name, None)
        super().remove(name)

    def route(self, name: str) -> int | None:
        with self._lock:
            return self._routes.get(name)

    def close(self) -> None:
        for name in list(self._proxies):
            self.remove(name)
        for server in self._servers.values():
            _stop(server)

    # -- the cluster side (runs in the cluster's thread) --------------------------------------------

    def _sync(self, cluster: FakeCluster) -> None:
        live = {}
        for namespace, service_name, _ in self.targets.values():
            service = cluster._objects.get(("", "Service", namespace, service_name))
            selector = (service or {}).get("spec", {}).get("selector") or {}
            for (_g, kind, ns, _n), pod in cluster._objects.items():
                labels = pod["metadata"].get("labels") or {}
                if kind == "Pod" and ns == namespace and selector and \
                        all(labels.get(k) == v for k, v in selector.items()):
                    live[pod["metadata"]["uid"]] = pod
        for uid in [u for u in self._servers if u not in live]:
            _stop(self._servers.pop(uid))
        for uid, pod in live.items():
            if uid not in self._servers and cluster._pod_ready(pod) and \
                    not pod["metadata"].get("deletionTimestamp"):
                self._servers[uid] = self._start(pod)
        routes = {}
        for name in self.targets:
            pod = self.pod(name)
            routes[name] = self._servers[pod["metadata"]["uid"]].port if pod is not None else None
        with self._lock:
            self._routes = routes

    def _start(self, pod: dict[str, Any]) -> _Server:
        """The pod's kserve-container, as a process: storage-initializer first, then the server."""
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "kserve-container")
        source = next(e["value"] for e in container["env"] if e["name"] == "STORAGE_URI")
        folder = self.work / pod["metadata"]["uid"]
        folder.mkdir(parents=True)
        bucket, key = uris.split_s3(source)
        local = folder / key.rsplit("/", 1)[-1]
        self._as_storage_initializer(pod).client().fget_object(bucket, key, str(local))
        argv = [sys.executable if part == "python" else part for part in container["command"]]
        args = list(container["args"])
        port = free_port()
        model = args.index("--model-uri") + 1
        # The pod reads what the storage-initializer wrote to its /mnt/models volume.
        args[model] = args[model].replace("/mnt/models", str(folder), 1)
        for flag, value in (("--port", str(port)), ("--host", "127.0.0.1")):
            args[args.index(flag) + 1] = value
        log = folder / "server.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen([*argv, *args], stdout=handle, stderr=subprocess.STDOUT)
        server = _Server(process, port, log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"stub server exited {process.returncode}: {log.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/v2/health/ready")
                if conn.getresponse().status == 200:
                    conn.close()
                    return server
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        _stop(server)
        raise AssertionError(f"stub server not ready in {START_TIMEOUT:.0f}s: {log.read_text()[-2000:]}")


    def _as_storage_initializer(self, pod: dict[str, Any]) -> ObjectStore:
        """The object store as the pod's storage-initializer reaches it: its env's Secret keys."""
        [init] = [c for c in pod["spec"].get("initContainers", []) if c["name"] == "storage-initializer"]
        keys = {}
        for entry in init["env"]:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None:
                secret = self.cluster.stored("v1", "Secret", ref["name"], pod["metadata"]["namespace"])
                keys[entry["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
        return ObjectStore(self.store.endpoint, keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])


def _stop(server: _Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _handler(forwards: StubServerForwards, name: str) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._relay()

        def do_POST(self) -> None:
            self._relay()

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = None
            for _ in range(2):  # a refused connect is retried once, on a fresh route
                port = forwards.route(name)
                if port is None:
                    break
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request(self.command, self.path, body=body or None,
                                 headers={"Content-Type": self.headers.get("Content-Type",
                                                                           "application/json")})
                    response = conn.getresponse()
                    answer = (response.status, response.getheader("Content-Type") or "", response.read())
                    conn.close()
                    break
                except ConnectionRefusedError:
                    continue
            status, kind, data = answer or (503, "text/plain", b"no ready pod behind the forward\n")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Proxy
