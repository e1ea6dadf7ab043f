"""The registry resolver: its pure parts and retries (fast tier, fake session), then the HTTP API v2
against a local fake registry and `appliance lock` end to end (integration tier)."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
from cli_in_process import run
from requests.structures import CaseInsensitiveDict

from appliance.cli import lock_command
from appliance.errors import ExternalCommandFailed
from appliance.sources.images import load_lock
from appliance.sources.registry import (
    RATE_LIMIT_FIX,
    Challenge,
    RegistryResolver,
    parse_challenge,
    wait_seconds,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


# --- fast tier: pure parts, and the resolver over a fake session (no port) ---------------------

def test_bearer_challenges_are_parsed_and_basic_auth_is_refused() -> None:
    header = ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
              'scope="repository:library/mysql:pull"')
    assert parse_challenge(header, "u") == Challenge(
        "https://auth.docker.io/token", "registry.docker.io", "repository:library/mysql:pull")
    assert parse_challenge('Bearer realm="https://ghcr.io/token"', "u").params() == {}
    with pytest.raises(ExternalCommandFailed) as info:
        parse_challenge('Basic realm="private"', "https://r.example/v2/")
    assert info.value.why == ("the registry asks for credentials (Basic auth), which the appliance does "
                              "not send")
    assert info.value.command == "https://r.example/v2/"
    with pytest.raises(ExternalCommandFailed) as info:
        parse_challenge('Bearer service="x"', "GET https://r.example/v2/")
    assert (info.value.command, info.value.why) == ("GET https://r.example/v2/",
                                                    "the auth challenge names no realm")


def test_waits_follow_retry_after_else_back_off() -> None:
    assert wait_seconds("3", 1) == 3.0
    assert [wait_seconds(None, attempt) for attempt in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert wait_seconds("Wed, 21 Oct 2026 07:28:00 GMT", 2) == 2.0
    assert wait_seconds("3600", 1) is None  # Docker Hub's window: an error beats an hour's wait


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers or {})
    response._content = body
    return response


class FakeSession(requests.Session):
    """Answers requests from a script, in order, and records them."""

    def __init__(self, answers: list[requests.Response]) -> None:
        super().__init__()
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append((str(method), str(url)))
        return self.answers.pop(0)


DIGEST = "sha256:" + "ab" * 32


def test_rate_limited_requests_are_retried_through_the_injected_sleep() -> None:
    session = FakeSession([answer(200), answer(429, {"Retry-After": "3"}), answer(429),
                           answer(200, {"Docker-Content-Digest": DIGEST, "Content-Type": OCI_INDEX})])
    sleeps: list[float] = []
    assert RegistryResolver(session, sleep=sleeps.append).resolve("quay.io/a/b:1") == DIGEST
    assert sleeps == [3.0, 2.0]
    assert session.calls == [("GET", "https://quay.io/v2/")] + [
        ("HEAD", "https://quay.io/v2/a/b/manifests/1")] * 3


def test_a_registry_that_stays_rate_limited_gives_a_clear_error() -> None:
    session = FakeSession([answer(200)] + [answer(429, {"Retry-After": "1"}, b"slow down")] * 4)
    sleeps: list[float] = []
    with pytest.raises(ExternalCommandFailed) as info:
        RegistryResolver(session, sleep=sleeps.append).resolve("quay.io/a/b:1")
    assert sleeps == [1.0, 1.0, 1.0]
    assert (info.value.command, info.value.why, info.value.fix, info.value.output) == (
        "HEAD https://quay.io/v2/a/b/manifests/1", "HTTP 429: still rate limited after 4 attempts",
        RATE_LIMIT_FIX, "slow down")
    session = FakeSession([answer(200), answer(429, {"Retry-After": "3600"})])
    with pytest.raises(ExternalCommandFailed) as info:
        RegistryResolver(session, sleep=sleeps.append).resolve("quay.io/a/b:1")
    assert info.value.why == "HTTP 429: rate limited, the registry asks to wait 3600s"
    assert sleeps == [1.0, 1.0, 1.0]


def test_a_schema1_answer_is_refused() -> None:
    session = FakeSession([answer(200), answer(200, {
        "Docker-Content-Digest": DIGEST,
        "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"})])
    with pytest.raises(ExternalCommandFailed) as info:
        RegistryResolver(session).resolve("quay.io/a/b:1")
    assert info.value.why == ("the registry answered with a "
                              "application/vnd.docker.distribution.manifest.v1+prettyjws manifest")


# --- integration tier: a fake registry on 127.0.0.1 -----------------------------------------------

def manifest(arch: str) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + arch.encode().hex().ljust(64, "0"), "size": 2},
                       "layers": []}).encode()


AMD64, ARM64 = manifest("amd64"), manifest("arm64")
INDEX = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
    {"mediaType": OCI_MANIFEST, "digest": sha(body), "size": len(body),
     "platform": {"architecture": arch, "os": "linux"}}
    for arch, body in (("amd64", AMD64), ("arm64", ARM64))]}).encode()


def listing(host: str, repository: str, tag: str) -> bytes:
    """The manifest list the fake serves for any other image (a function of host, name and tag)."""
    return json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST,
                       "manifests": [], "annotations": {"image": f"{host}/{repository}:{tag}"}}).encode()


class FakeRegistry(BaseHTTPRequestHandler):
    """The v2 API subset a resolver uses: /v2/ (Bearer challenge), a token endpoint, manifests by
    HEAD and GET with Docker-Content-Digest, an index or one platform's manifest by Accept, 429s."""

    log: ClassVar[list[tuple[str, str, str]]] = []
    busy: ClassVar[int] = 0  # how many more manifest requests answer 429
    token_field: ClassVar[str] = "token"
    omit_digest: ClassVar[bool] = False

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def _realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def _handle(self) -> None:
        url = urlsplit(self.path)
        host = self.headers.get("X-Registry-Host", "127.0.0.1")
        self.log.append((self.command, f"{host}{self.path}", self.headers.get("Authorization", "")))
        if url.path == "/v2/":
            self._send(401, {"WWW-Authenticate": f'Bearer realm="{self._realm()}",service="fake"'})
        elif url.path == "/token":
            query = parse_qs(url.query)
            assert query["service"] == ["fake"]
            repository = query["scope"][0].split(":")[1]
            self._send(200, {"Content-Type": "application/json"},
                       json.dumps({self.token_field: f"t-{repository}"}).encode())
        elif "/manifests/" in url.path:
            repository, tag = url.path[len("/v2/"):].split("/manifests/")
            if self.headers.get("Authorization") != f"Bearer t-{repository}":
                challenge = (f'Bearer realm="{self._realm()}",service="fake",'
                             f'scope="repository:{repository}:pull"')
                self._send(401, {"WWW-Authenticate": challenge})
                return
            if FakeRegistry.busy:
                FakeRegistry.busy -= 1
                self._send(429, {"Retry-After": "2"}, b"too many requests")
                return
            accept = self.headers.get("Accept", "")
            if (repository, tag) == ("demo/app", "1.0"):
                # A client that accepts no index gets one platform's manifest, as from real registries.
                media, body = (OCI_INDEX, INDEX) if OCI_INDEX in accept else (OCI_MANIFEST, AMD64)
            elif repository == "demo/missing":
                self._send(404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                return
            else:
                media, body = DOCKER_LIST, listing(host, repository, tag)
            headers = {"Content-Type": media}
            if not (self.omit_digest and self.command == "HEAD"):
                headers["Docker-Content-Digest"] = sha(body)
            self._send(200, headers, body)
        else:
            self._send(404, {})

    do_GET = do_HEAD = _handle  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    FakeRegistry.log, FakeRegistry.busy = [], 0
    FakeRegistry.token_field, FakeRegistry.omit_digest = "token", False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_token_flow_locks_the_index_digest(registry: str) -> None:
    resolver = RegistryResolver(insecure=frozenset({registry}))
    assert resolver.resolve(f"{registry}/demo/app:1.0") == sha(INDEX)  # the index, not amd64's
    FakeRegistry.token_field = "access_token"  # Docker Hub's name for it
    assert resolver.resolve(f"{registry}/demo/other:2") == sha(listing("127.0.0.1", "demo/other", "2"))
    assert FakeRegistry.log == [
        ("GET", "127.0.0.1/v2/", ""),
        ("GET", "127.0.0.1/token?service=fake&scope=repository%3Ademo%2Fapp%3Apull", ""),
        ("HEAD", "127.0.0.1/v2/demo/app/manifests/1.0", "Bearer t-demo/app"),
        # The registry's challenge is asked once; each repository gets its own token.
        ("GET", "127.0.0.1/token?service=fake&scope=repository%3Ademo%2Fother%3Apull", ""),
        ("HEAD", "127.0.0.1/v2/demo/other/manifests/2", "Bearer t-demo/other"),
    ]
    assert sha(INDEX) != sha(AMD64)


@pytest.mark.integration
def test_without_the_digest_header_the_manifest_is_hashed(registry: str) -> None:
    FakeRegistry.omit_digest = True
    assert RegistryResolver(insecure=frozenset({registry})).resolve(f"{registry}/demo/app:1.0") == sha(INDEX)
    assert [m for m, _, _ in FakeRegistry.log][-2:] == ["HEAD", "GET"]


@pytest.mark.integration
def test_rate_limit_answers_are_waited_out(registry: str) -> None:
    FakeRegistry.busy = 2
    sleeps: list[float] = []
    resolver = RegistryResolver(insecure=frozenset({registry}), sleep=sleeps.append)
    assert resolver.resolve(f"{registry}/demo/app:1.0") == sha(INDEX)
    assert sleeps == [2.0, 2.0]
    FakeRegistry.busy = 9
    with pytest.raises(ExternalCommandFailed) as info:
        resolver.resolve(f"{registry}/demo/app:1.0")
    assert info.value.why == "HTTP 429: still rate limited after 4 attempts"
    assert sleeps == [2.0, 2.0, 2.0, 2.0, 2.0]


@pytest.mark.integration
def test_unknown_image_is_an_external_failure(registry: str) -> None:
    with pytest.raises(ExternalCommandFailed) as info:
        RegistryResolver(insecure=frozenset({registry})).resolve(f"{registry}/demo/missing:2.0")
    assert info.value.command == f"HEAD http://{registry}/v2/demo/missing/manifests/2.0"
    assert (info.value.why, info.value.exit_code) == ("HTTP 404: no such image or tag", 4)


@pytest.mark.integration
def test_lock_cli_writes_the_lock_and_keeps_it_on_failure(registry: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "images.lock.yaml"
    args = ["lock", "--image", f"{registry}/demo/app:1.0", "--insecure-registry", registry, "-o", str(lock)]
    code, out, err = run(args, capsys)
    assert (code, out) == (0, "")
    assert f"✓ {registry}/demo/app:1.0 -> {sha(INDEX)}" in err
    assert load_lock(lock) == {f"{registry}/demo/app:1.0": sha(INDEX)}
    code, _, err = run(["lock", "--image", f"{registry}/demo/missing:9", "--insecure-registry", registry,
                        "-o", str(lock)], capsys)
    assert code == 4
    assert (f"✗ {registry}/demo/missing:9: command failed: "
            f"HEAD http://{registry}/v2/demo/missing/manifests/9: HTTP 404: no such image or tag") in err
    assert load_lock(lock) == {f"{registry}/demo/app:1.0": sha(INDEX)}  # what resolved before stays


class ToFakeRegistry(requests.adapters.HTTPAdapter):
    """Sends every HTTPS request to the fake registry, naming the host it was meant for."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        request.headers["X-Registry-Host"] = parts.netloc
        request.url = urlunsplit(("http", self.address, parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


@pytest.mark.integration
def test_lock_pins_every_image_of_a_profile_and_the_review_stops_reporting_them(
        registry: str, upstream_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    session = requests.Session()
    session.mount("https://", ToFakeRegistry(registry))
    monkeypatch.setattr(lock_command, "RegistryResolver", functools.partial(RegistryResolver, session))
    lock = tmp_path / "serving.lock.yaml"
    code, _, err = run(["lock", "--profile", "serving", "-o", str(lock)], capsys)
    assert code == 0, err
    api = {"docker.io": "registry-1.docker.io"}
    expected = {}
    for image in ("kserve/kserve-controller:v0.20.0", "kserve/lgbserver:v0.20.0",
                  "kserve/sklearnserver:v0.20.0", "kserve/storage-initializer:v0.20.0",
                  "kserve/xgbserver:v0.20.0",
                  "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"):
        host, repository = ("quay.io", image[len("quay.io/"):]) if image.startswith("quay.io/") else (
            "docker.io", image)
        name, tag = repository.rsplit(":", 1)
        expected[image] = sha(listing(api.get(host, host), name, tag))
    assert load_lock(lock) == expected
    assert f"lock {lock}: 6 image(s), 6 resolved now" in err

    code, out, err = run(["render", "--profile", "serving", "--lock", str(lock), "--images"], capsys)
    assert code == 0 and "6/6 images pinned by digest" in err
    assert out.splitlines() == [f"{image}@{digest}" for image, digest in sorted(expected.items())]
    rules = {}
    for with_lock in (False, True):
        bundle = tmp_path / f"serving-{with_lock}.yaml"
        code, _, err = run(["render", "--profile", "serving", "-o", str(bundle),
                            *(["--lock", str(lock)] if with_lock else [])], capsys)
        assert code == 0, err
        code, out, _ = run(["review", "-f", str(bundle), "--format", "json"], capsys)
        rules[with_lock] = sorted(f["rule"] for f in json.loads(out)["findings"])
    assert rules[False].count("images.no-digest") == 6
    assert rules[True] == [r for r in rules[False] if r != "images.no-digest"]
