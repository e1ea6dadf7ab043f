"""Image references, the digest resolver against a local fake registry (token auth), the lock file."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from appliance.cli import cli, main
from appliance.errors import ExternalCommandFailed, InvalidDocument
from appliance.sources.images import ImageRef, RegistryResolver, dump_lock, load_lock, pin

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": []}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
TOKEN = "t0ken"


class Registry(BaseHTTPRequestHandler):
    """A Docker Registry v2 fake: bearer-token auth, /v2/<name>/manifests/<tag>."""

    requests: list[tuple[str, str, str]] = []
    omit_digest_header = False

    def _manifest(self, with_body: bool) -> None:
        port = self.server.server_address[1]
        self.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://127.0.0.1:{port}/token",'
                                                 f'service="fake",scope="repository:demo/app:pull"')
            self.end_headers()
            return
        if self.path != "/v2/demo/app/manifests/1.0":
            self.send_response(404)
            self.end_headers()
            return
        assert "application/vnd.oci.image.index.v1+json" in self.headers["Accept"]
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.index.v1+json")
        if not self.omit_digest_header:
            self.send_header("Docker-Content-Digest", DIGEST)
        self.send_header("Content-Length", str(len(MANIFEST)))
        self.end_headers()
        if with_body:
            self.wfile.write(MANIFEST)

    def do_HEAD(self) -> None:  # noqa: N802
        self._manifest(with_body=False)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/token"):
            query = parse_qs(urlparse(self.path).query)
            assert query == {"service": ["fake"], "scope": ["repository:demo/app:pull"]}
            body = json.dumps({"token": TOKEN}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
            return
        self._manifest(with_body=True)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    Registry.requests = []
    Registry.omit_digest_header = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_parse_references() -> None:
    assert ImageRef.parse("mysql:8.4") == ImageRef("docker.io", "library/mysql", "8.4", "")
    assert ImageRef.parse("kserve/agent:v0.20.0").repository == "kserve/agent"
    assert ImageRef.parse("kserve/agent:v0.20.0").api_host == "registry-1.docker.io"
    assert ImageRef.parse("127.0.0.1:5000/a/b:1") == ImageRef("127.0.0.1:5000", "a/b", "1", "")
    assert ImageRef.parse("ghcr.io/x/y").tag == "latest"
    ref = ImageRef.parse(f"quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z@{DIGEST}")
    assert (ref.tag, ref.digest) == ("RELEASE.2025-09-07T16-13-09Z", DIGEST)
    with pytest.raises(ValueError, match=r"^not an image reference: 'x@sha256:nothex'$"):
        ImageRef.parse("x@sha256:nothex")
    # The distribution reference grammar: lowercase path components, a host, a tag of [\w.-].
    for bad in ("not a ref!!", "UPPER/x", "a//b", "host_name.io/x/y", "x:bad/tag", "x:-tag"):
        with pytest.raises(ValueError, match=r"^not an image reference: "):
            ImageRef.parse(bad)
    assert ImageRef.parse("localhost:5000/a_b/c__d-e.f:v1.2-rc_3").repository == "a_b/c__d-e.f"


@pytest.mark.parametrize(("args", "message"), [
    (["fetch", "--images", "--image", "not a ref!!"],
     "error: not an image reference: 'not a ref!!' (fix: give name:tag, e.g. "
     "quay.io/minio/minio:RELEASE...)"),
    (["fetch", "--insecure-registry", "127.0.0.1:5000"],
     "error: --insecure-registry needs --images (fix: add --images)"),
])
def test_fetch_refuses_bad_image_options_before_any_request(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert (info.value.code, capsys.readouterr().err.strip()) == (2, message)


def test_render_refuses_a_lock_that_is_missing_or_a_directory(tmp_path: Path) -> None:
    for lock, why in ((tmp_path / "nofile.yaml", "does not exist"), (tmp_path, "is a directory")):
        result = CliRunner().invoke(cli, ["render", "--profile", "minimal", "--lock", str(lock)])
        assert result.exit_code == 2
        assert f"Invalid value for '--lock': File '{lock}' {why}." in result.stderr


def test_resolver_follows_the_token_flow(registry: str) -> None:
    resolver = RegistryResolver(insecure=frozenset({registry}))
    assert resolver.resolve(f"{registry}/demo/app:1.0") == DIGEST
    assert [(m, p, a) for m, p, a in Registry.requests] == [
        ("HEAD", "/v2/demo/app/manifests/1.0", ""),
        ("HEAD", "/v2/demo/app/manifests/1.0", f"Bearer {TOKEN}"),
    ]


def test_resolver_hashes_the_manifest_when_the_header_is_missing(registry: str) -> None:
    Registry.omit_digest_header = True
    resolver = RegistryResolver(insecure=frozenset({registry}))
    assert resolver.resolve(f"{registry}/demo/app:1.0") == DIGEST
    assert Registry.requests[-1][0] == "GET"


def test_unknown_tag_is_an_external_failure(registry: str) -> None:
    resolver = RegistryResolver(insecure=frozenset({registry}))
    with pytest.raises(ExternalCommandFailed) as info:
        resolver.resolve(f"{registry}/demo/app:2.0")
    assert info.value.command == f"HEAD http://{registry}/v2/demo/app/manifests/2.0"
    assert info.value.why == "HTTP 404"


def test_lock_round_trip_and_pinning(tmp_path: Path) -> None:
    path = tmp_path / "lock.yaml"
    path.write_text(dump_lock({"b:1": DIGEST, "a:1": DIGEST}))
    assert list(load_lock(path)) == ["a:1", "b:1"]
    assert pin("a:1", load_lock(path)) == f"a:1@{DIGEST}"
    assert pin("c:1", load_lock(path)) is None
    assert load_lock(tmp_path / "absent.yaml") == {}
    path.write_text("apiVersion: appliance.dev/v1alpha1\nkind: ImageLock\nimages:\n  a:1: md5:x\nextra: 1\n")
    with pytest.raises(InvalidDocument) as info:
        load_lock(path)
    assert info.value.problems == [
        "extra: unknown field", "images.a:1: expected sha256:<64 hex>, got 'md5:x'"]


def test_fetch_images_cli_writes_the_lock(registry: str, tmp_path: Path) -> None:
    lock = tmp_path / "images.lock.yaml"
    args = ["fetch", "--images", "--image", f"{registry}/demo/app:1.0", "--insecure-registry", registry,
            "--lock", str(lock)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert load_lock(lock) == {f"{registry}/demo/app:1.0": DIGEST}
    bad = CliRunner().invoke(cli, ["fetch", "--images", "--image", f"{registry}/demo/app:9",
                                   "--insecure-registry", registry, "--lock", str(lock)])
    assert bad.exit_code != 0
    assert load_lock(lock) == {f"{registry}/demo/app:1.0": DIGEST}  # what resolved before stays
