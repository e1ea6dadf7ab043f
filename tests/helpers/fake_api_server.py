"""A local HTTP fake of the Kubernetes API server for contract tests of the real client adapter:
discovery documents, canned answers, and a record of every request (integration tier: a port)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

TOKEN = "contract-test-token"


def resource(name: str, kind: str, namespaced: bool, verbs: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "singularName": "", "kind": kind, "namespaced": namespaced,
            "verbs": verbs or ["create", "delete", "get", "list", "patch", "update", "watch"]}


DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "34", "gitVersion": "v1.34.11", "gitCommit": "0" * 40,
                 "gitTreeState": "clean", "buildDate": "2026-08-01T00:00:00Z", "goVersion": "go1.24.6",
                 "compiler": "gc", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": group, "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"}}
        for group in ("apps", "example.dev", "authorization.k8s.io")]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        resource("namespaces", "Namespace", False), resource("pods", "Pod", True),
        resource("pods/log", "Pod", True, ["get"]), resource("secrets", "Secret", True),
        resource("services", "Service", True),
        resource("events", "Event", True)]},
    "/apis/apps/v1": {"kind": "APIResourceList", "groupVersion": "apps/v1",
                      "resources": [resource("deployments", "Deployment", True)]},
    "/apis/example.dev/v1": {"kind": "APIResourceList", "groupVersion": "example.dev/v1", "resources": [
        resource("widgets", "Widget", True), resource("gadgets", "Gadget", False)]},
    "/apis/authorization.k8s.io/v1": {"kind": "APIResourceList", "groupVersion": "authorization.k8s.io/v1",
                                      "resources": [resource("selfsubjectaccessreviews",
                                                             "SelfSubjectAccessReview", False, ["create"])]},
}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}


class FakeApiServer:
    """Discovery documents plus canned answers; records every request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: dict[tuple[str, str], tuple[int, Any]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                server.seen.append(Seen(self.command, url.path, parse_qs(url.query),
                                        {k.lower(): v for k, v in self.headers.items()}, body))
                code, answer = server.answer(self.command, url.path, body)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(code)
                kind = "text/plain" if isinstance(answer, str) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        path = path.rstrip("/") or "/"  # the API server serves /version/ as /version
        if (method, path) in self.answers:
            return self.answers[(method, path)]
        if method == "GET" and path in DISCOVERY:
            return 200, DISCOVERY[path]
        if method == "PATCH":  # server-side apply: echo the object as stored
            return 200, {**body, "metadata": {**body["metadata"], "resourceVersion": "7", "generation": 1}}
        if method == "POST" and path.endswith("/selfsubjectaccessreviews"):
            return 201, {**body, "status": {"allowed": body["spec"]["resourceAttributes"]["verb"] == "get"}}
        return 404, status(404, "NotFound", f"{path} not found")

    def requests(self, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if method is None or s.method == method]


@contextmanager
def running() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def kubeconfig(path: Path, url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "appliance", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "missing", "user": "u"}}],
    }))
    return path
