"""`appliance fetch`: fill the cache from pinned sources (URL download or git + kustomize render)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import requests

from appliance.catalog.model import Source
from appliance.console import Progress
from appliance.errors import CheckFailed, ExternalCommandFailed, MissingPrerequisite
from appliance.runtime.process import CommandRunner
from appliance.sources.cache import sha256_file, store_bytes
from appliance.sources.kustomize import Kustomize

Download = Callable[[str], bytes]


@dataclass(frozen=True)
class FetchResult:
    source: str
    status: str  # present | copied | downloaded | rendered
    path: Path
    # A git render: the kustomize version used, and a warning when it is not the pin's.
    kustomize: str = ""
    warning: str = ""


def http_download(url: str) -> bytes:
    """GET a URL (the pins are public release assets); raises ExternalCommandFailed on failure."""
    try:
        response = requests.get(url, timeout=60)
    except requests.RequestException as exc:
        raise ExternalCommandFailed(f"GET {url}", str(exc), "the download failed",
                                    "check the network, or fill the cache with `--from DIR`") from exc
    if response.status_code != 200:
        raise ExternalCommandFailed(f"GET {url}", response.text[:500], f"HTTP {response.status_code}")
    return response.content


class Fetcher:
    """Fills one cache directory; every file is verified against its pinned sha256."""

    def __init__(
        self,
        directory: Path,
        runner: CommandRunner | None = None,
        download: Download = http_download,
        also: tuple[Path, ...] = (),
        progress: Progress = lambda message: None,
    ) -> None:
        self.directory = directory
        # Read-only caches (the dev cache): a verified copy there needs no fetch.
        self.also = also
        self.runner = runner or CommandRunner()
        self.kustomize = Kustomize(self.runner)
        self.download = download
        self.progress = progress

    def fetch_all(self, sources: Iterable[Source], from_dir: Path | None = None) -> list[FetchResult]:
        return [self.fetch(source, from_dir) for source in sources]

    def cached(self, source: Source) -> Path | None:
        """A verified copy already in the cache (or a read-only one), else None."""
        for candidate in (self.directory / source.file, *(d / source.file for d in self.also)):
            if candidate.is_file() and sha256_file(candidate) == source.sha256:
                return candidate
        return None

    def fetch(self, source: Source, from_dir: Path | None = None) -> FetchResult:
        present = self.cached(source)
        if present is not None:
            return FetchResult(source.id, "present", present)
        if from_dir is not None:
            candidate = from_dir / source.file
            if not candidate.is_file():
                raise CheckFailed(f"{candidate} not found", f"source {source.id} pins {source.file}",
                                  "point --from at a directory holding the pinned files")
            return FetchResult(source.id, "copied", self._store(source, candidate.read_bytes()))
        if source.url:
            self.progress(f"{source.id}: downloading {source.url}")
            return FetchResult(source.id, "downloaded", self._store(source, self.download(source.url)))
        pin = source.git
        if pin is None:
            raise CheckFailed(f"source {source.id!r} has neither url nor git pin")
        version = self.kustomize.version()
        warning = ""
        if pin.kustomize and version != pin.kustomize:
            warning = (f"kustomize {version} (kubectl) is not {pin.kustomize}, the version the pin of "
                       f"{source.id!r} was made with: its output may differ")
            self.progress(f"{source.id}: warning: {warning}")
        payload = self.render(source)
        try:
            path = self._store(source, payload)
        except CheckFailed as exc:
            if warning:
                exc.why += f"; rendered with kustomize {version}, the pin was made with {pin.kustomize}"
                exc.fix = (f"use a kubectl whose `kubectl version --client` shows Kustomize Version "
                           f"{pin.kustomize}, or fill the cache from a verified copy with `--from DIR`")
            raise
        return FetchResult(source.id, "rendered", path, version, warning)

    def _store(self, source: Source, payload: bytes) -> Path:
        actual = hashlib.sha256(payload).hexdigest()
        if actual != source.sha256:
            raise CheckFailed(
                f"source {source.id!r} does not match its pin",
                f"sha256 {actual}, pinned {source.sha256}",
                "the upstream content changed or could not be reproduced: check the pin in "
                "profiles/catalog.yaml, or fill the cache from a verified copy with `--from DIR`",
            )
        return store_bytes(self.directory, source.file, payload)

    def render(self, source: Source) -> bytes:
        """Clone the pinned commit, render each path with `kubectl kustomize` (joined with ---),
        substitute, then apply the pin's patches through a wrapper kustomization."""
        pin = source.git
        if pin is None:
            raise CheckFailed(f"source {source.id!r} has no git pin")
        work = Path(tempfile.mkdtemp(prefix="appliance-fetch-"))
        try:
            checkout = work / "repo"
            self.progress(f"{source.id}: fetching {pin.repo} at {pin.commit[:12]}")
            self._clone(pin.repo, pin.commit, checkout)
            parts = []
            for index, path in enumerate(pin.paths):
                self.progress(f"{source.id}: kubectl kustomize {path}")
                parts.append(self.kustomize.build(checkout / path, work / f"part-{index}.yaml"))
            text = "---\n".join(parts)
            for old, new in pin.substitutions:
                text = text.replace(old, new)
            if pin.patches:
                self.progress(f"{source.id}: applying {len(pin.patches)} pinned patch(es)")
                text = self.kustomize.patch(text, pin.patches, work / "wrapper")
            return text.encode("utf-8")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _clone(self, repo: str, commit: str, checkout: Path) -> None:
        git = ["git", "-C", str(checkout)]
        try:
            self.runner.run(["git", "init", "--quiet", str(checkout)])
        except ExternalCommandFailed as exc:
            if exc.why.endswith("is not installed"):
                raise MissingPrerequisite("git is not installed", "git pins are fetched with git",
                                          "install git, or fill the cache from a verified copy with "
                                          "`appliance fetch --from DIR`") from exc
            raise
        try:
            self.runner.run([*git, "fetch", "--quiet", "--depth", "1", repo, commit], timeout=600)
        except ExternalCommandFailed as exc:
            # The command as a user would retype it (not the temporary checkout), and git's first
            # `fatal:` line, which says why (offline, no such repository or commit).
            reason = next((line.strip() for line in exc.output.splitlines() if line.startswith("fatal:")),
                          exc.why)
            raise ExternalCommandFailed(
                f"git fetch --depth 1 {repo} {commit}", exc.output,
                f"the pinned commit could not be fetched ({reason})",
                "check the network, or fill the cache from a verified copy with `appliance fetch "
                "--from DIR`") from exc
        self.runner.run([*git, "checkout", "--quiet", "FETCH_HEAD"])
