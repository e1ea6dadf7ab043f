"""Pinned sources: cache lookup and verification, fetching by URL, git render, or from a directory."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from appliance.catalog.model import GitPin, Source
from appliance.errors import CheckFailed, MissingPrerequisite
from appliance.runtime.process import CommandResult, CommandRunner
from appliance.sources import cache
from appliance.sources.fetch import Fetcher, http_download

BODY = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\n"


def source(payload: bytes = BODY, **pin: object) -> Source:
    return Source("demo", "demo.yaml", hashlib.sha256(payload).hexdigest(), **pin)  # type: ignore[arg-type]


def test_missing_entry_names_appliance_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path))
    with pytest.raises(MissingPrerequisite) as info:
        cache.locate(source())
    assert "run `appliance fetch`" in info.value.fix
    assert str(tmp_path) in info.value.why
    assert info.value.exit_code == 3


def test_appliance_cache_is_the_only_place_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path / "c"))
    assert cache.cache_dirs() == [tmp_path / "c"]
    monkeypatch.delenv("APPLIANCE_CACHE")
    monkeypatch.setenv("APPLIANCE_UPSTREAM", str(tmp_path))
    assert cache.cache_dirs()[1:] == [tmp_path]
    assert cache.cache_dirs()[0].name == "upstream"


def test_without_configuration_only_the_user_cache_is_looked(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # No folder beside the installation or the checkout is ever searched: only what is configured.
    monkeypatch.delenv("APPLIANCE_CACHE", raising=False)
    monkeypatch.delenv("APPLIANCE_UPSTREAM", raising=False)
    monkeypatch.setattr(cache.platformdirs, "user_cache_dir", lambda name: str(tmp_path / "user" / name))
    assert cache.cache_dirs() == [tmp_path / "user" / "appliance" / "upstream"]
    monkeypatch.setenv("APPLIANCE_UPSTREAM", str(tmp_path / "absent"))
    assert cache.cache_dirs() == [tmp_path / "user" / "appliance" / "upstream"]


def test_tampered_entry_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path))
    (tmp_path / "demo.yaml").write_bytes(BODY + b"# edited\n")
    with pytest.raises(CheckFailed, match="does not match its pin"):
        cache.read_documents(source())
    (tmp_path / "demo.yaml").write_bytes(BODY)
    docs = cache.read_documents(source())
    assert docs == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}}]
    docs[0]["kind"] = "changed"
    assert cache.read_documents(source())[0]["kind"] == "ConfigMap"  # callers get fresh copies


def test_verified_copy_in_a_read_only_cache_counts(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_bytes(BODY)
    result = Fetcher(tmp_path / "cache", also=(tmp_path,)).fetch(source(url="http://127.0.0.1:9/never"))
    assert (result.status, result.path) == ("present", tmp_path / "demo.yaml")
    assert not (tmp_path / "cache").exists()


def test_fetch_from_directory_verifies(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "demo.yaml").write_bytes(BODY)
    fetcher = Fetcher(tmp_path / "cache")
    assert fetcher.fetch(source(), origin).status == "copied"
    assert fetcher.fetch(source(), origin).status == "present"
    (origin / "demo.yaml").write_bytes(b"other")
    (tmp_path / "cache" / "demo.yaml").unlink()
    with pytest.raises(CheckFailed, match="does not match its pin"):
        fetcher.fetch(source(), origin)
    assert not (tmp_path / "cache" / "demo.yaml").exists()


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/demo.yaml":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BODY)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def file_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_by_url(tmp_path: Path, file_server: str) -> None:
    result = Fetcher(tmp_path).fetch(source(url=f"{file_server}/demo.yaml"))
    assert result.status == "downloaded"
    assert result.path.read_bytes() == BODY
    with pytest.raises(CheckFailed, match="does not match its pin"):
        Fetcher(tmp_path / "other").fetch(source(b"different", url=f"{file_server}/demo.yaml"))


def test_download_failure_carries_the_url(file_server: str) -> None:
    from appliance.errors import ExternalCommandFailed

    with pytest.raises(ExternalCommandFailed) as info:
        http_download(f"{file_server}/missing.yaml")
    assert info.value.command == f"GET {file_server}/missing.yaml"
    assert info.value.why == "HTTP 404"


class FakeRunner(CommandRunner):
    """Plays git and kubectl: records commands, writes each kustomize --output file."""

    def __init__(self, outputs: list[str]) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def run(self, argv: Sequence[str], timeout: float = 60.0, check: bool = True) -> CommandResult:
        self.calls.append(list(argv))
        if argv[:2] == ["kubectl", "kustomize"]:
            Path(argv[-1]).write_text(self.outputs.pop(0))
        return CommandResult(tuple(argv), 0, "")


def test_fetch_by_git_renders_each_path_and_substitutes(tmp_path: Path) -> None:
    parts = ["kind: A\nimage: x:latest\n", "kind: B\n"]
    expected = b"kind: A\nimage: x:v1\n---\nkind: B\n"
    pin = GitPin("https://example.org/repo", "a" * 40, ("one", "two"), ((":latest", ":v1"),))
    runner = FakeRunner(parts)
    result = Fetcher(tmp_path, runner=runner).fetch(source(expected, git=pin))
    assert result.status == "rendered"
    assert result.path.read_bytes() == expected
    fetch_call = runner.calls[1]
    assert fetch_call[-2:] == ["https://example.org/repo", "a" * 40]
    assert [c[:2] for c in runner.calls] == [["git", "init"], ["git", "-C"], ["git", "-C"],
                                              ["kubectl", "kustomize"], ["kubectl", "kustomize"]]
    assert runner.calls[3][2].endswith("/repo/one") and runner.calls[4][2].endswith("/repo/two")
