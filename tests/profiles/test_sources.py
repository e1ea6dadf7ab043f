"""Pinned sources: cache lookup and verification, fetching by URL, git render, or from a directory."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from appliance.catalog.model import GitPin, Source
from appliance.errors import CheckFailed, ExternalCommandFailed, MissingPrerequisite
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
    with pytest.raises(ExternalCommandFailed) as info:
        http_download(f"{file_server}/missing.yaml")
    assert info.value.command == f"GET {file_server}/missing.yaml"
    assert info.value.why == "HTTP 404"


class FakeRunner(CommandRunner):
    """Plays git and kubectl: records commands, writes each kustomize --output file."""

    def __init__(self, outputs: list[str], kustomize: str = "v5.5.0", fail: dict[str, str] | None = None,
                 missing: str = "") -> None:
        self.outputs = outputs
        self.kustomize = kustomize
        self.fail = fail or {}  # first word after git/kubectl -> output of a failure
        self.missing = missing
        self.calls: list[list[str]] = []
        self.wrappers: list[dict[str, str]] = []

    def run(self, argv: Sequence[str], timeout: float = 60.0, check: bool = True) -> CommandResult:
        self.calls.append(list(argv))
        if argv[0] == self.missing:
            raise ExternalCommandFailed(list(argv), "", f"{argv[0]} is not installed")
        verb = argv[3] if argv[:2] == ["git", "-C"] else argv[1]
        if verb in self.fail:
            raise ExternalCommandFailed(list(argv), self.fail[verb], "exit code 128")
        if argv[:3] == ["kubectl", "version", "--client"]:
            version = f"Client Version: v1.32.4\nKustomize Version: {self.kustomize}\n"
            return CommandResult(tuple(argv), 0, version)
        if argv[:2] == ["kubectl", "kustomize"]:
            folder = Path(argv[2])
            if (folder / "rendered.yaml").is_file():  # the wrapper: record what it was given
                self.wrappers.append({p.name: p.read_text() for p in sorted(folder.iterdir())})
            Path(argv[-1]).write_text(self.outputs.pop(0))
        return CommandResult(tuple(argv), 0, "")


PIN = GitPin("https://example.org/repo", "a" * 40, ("one", "two"), ((":latest", ":v1"),), kustomize="v5.5.0")


def test_fetch_by_git_renders_each_path_and_substitutes(tmp_path: Path) -> None:
    parts = ["kind: A\nimage: x:latest\n", "kind: B\n"]
    expected = b"kind: A\nimage: x:v1\n---\nkind: B\n"
    runner = FakeRunner(parts)
    result = Fetcher(tmp_path, runner=runner).fetch(source(expected, git=PIN))
    assert (result.status, result.kustomize, result.warning) == ("rendered", "v5.5.0", "")
    assert result.path.read_bytes() == expected
    fetch_call = runner.calls[2]
    assert fetch_call[-2:] == ["https://example.org/repo", "a" * 40]
    assert [c[:3] for c in runner.calls] == [
        ["kubectl", "version", "--client"], ["git", "init", "--quiet"], ["git", "-C", str(fetch_call[2])],
        ["git", "-C", str(fetch_call[2])], ["kubectl", "kustomize", runner.calls[4][2]],
        ["kubectl", "kustomize", runner.calls[5][2]]]
    assert runner.calls[4][2].endswith("/repo/one") and runner.calls[5][2].endswith("/repo/two")
    assert runner.wrappers == []


def test_pinned_patches_go_through_a_wrapper_kustomization_after_substitution(tmp_path: Path) -> None:
    patch = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"},
             "data": {"mode": "Standard"}}
    pin = dataclasses.replace(PIN, paths=("one",), patches=(patch,))
    runner = FakeRunner(["kind: ConfigMap\nimage: x:latest\n", "patched\n"])
    result = Fetcher(tmp_path, runner=runner).fetch(source(b"patched\n", git=pin))
    assert result.path.read_bytes() == b"patched\n"
    assert runner.wrappers == [{
        "kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                              "sortOptions:\n  order: fifo\nresources:\n- rendered.yaml\npatches:\n"
                              "- path: patch-0.yaml\n",
        "patch-0.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: x\n"
                        "data:\n  mode: Standard\n",
        "rendered.yaml": "kind: ConfigMap\nimage: x:v1\n",
    }]


def test_another_kustomize_version_is_named_with_the_pins(tmp_path: Path) -> None:
    steps: list[str] = []
    same = Fetcher(tmp_path / "a", runner=FakeRunner(["kind: A\n", "kind: B\n"], kustomize="v5.6.0"),
                   progress=steps.append).fetch(source(b"kind: A\n---\nkind: B\n", git=PIN))
    warning = ("kustomize v5.6.0 (kubectl) is not v5.5.0, the version the pin of 'demo' was made with: "
               "its output may differ")
    assert (same.status, same.kustomize, same.warning) == ("rendered", "v5.6.0", warning)
    assert steps[0] == f"demo: warning: {warning}"
    with pytest.raises(CheckFailed) as info:
        Fetcher(tmp_path / "b", runner=FakeRunner(["kind: A\n", "kind: C\n"], kustomize="v5.6.0")).fetch(
            source(b"kind: A\n---\nkind: B\n", git=PIN))
    assert info.value.why.endswith("; rendered with kustomize v5.6.0, the pin was made with v5.5.0")
    assert "Kustomize Version v5.5.0" in info.value.fix


@pytest.mark.parametrize(("missing", "what"), [("kubectl", "kubectl is not installed"),
                                                ("git", "git is not installed")])
def test_missing_tools_are_prerequisites(missing: str, what: str, tmp_path: Path) -> None:
    with pytest.raises(MissingPrerequisite) as info:
        Fetcher(tmp_path, runner=FakeRunner([], missing=missing)).fetch(source(git=PIN))
    assert (info.value.what, info.value.exit_code) == (what, 3)
    assert "appliance fetch --from DIR" in info.value.fix


def test_a_failed_clone_names_the_repository_and_gits_reason(tmp_path: Path) -> None:
    runner = FakeRunner([], fail={"fetch": "fatal: unable to access 'https://example.org/repo/': "
                                           "Could not resolve host: example.org\n"})
    with pytest.raises(ExternalCommandFailed) as info:
        Fetcher(tmp_path, runner=runner).fetch(source(git=PIN))
    assert info.value.render() == (
        f"command failed: git fetch --depth 1 https://example.org/repo {'a' * 40}: the pinned commit "
        "could not be fetched (fatal: unable to access 'https://example.org/repo/': Could not resolve "
        "host: example.org) (fix: check the network, or fill the cache from a verified copy with "
        "`appliance fetch --from DIR`)\n"
        "fatal: unable to access 'https://example.org/repo/': Could not resolve host: example.org")
    assert info.value.exit_code == 4
