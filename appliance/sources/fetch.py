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
from appliance.errors import CheckFailed, ExternalCommandFailed
from appliance.runtime.process import CommandRunner
from appliance.sources.cache import sha256_file, store_bytes

Download = Callable[[str], bytes]


@dataclass(frozen=True)
class FetchResult:
    source: str
    status: str  # present | copied | downloaded | rendered
    path: Path


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
    ) -> None:
        self.directory = directory
        # Read-only caches (the dev cache): a verified copy there needs no fetch.
        self.also = also
        self.runner = runner or CommandRunner()
        self.download = download

    def fetch_all(self, sources: Iterable[Source], from_dir: Path | None = None) -> list[FetchResult]:
        return [self.fetch(source, from_dir) for source in sources]

    def fetch(self, source: Source, from_dir: Path | None = None) -> FetchResult:
        target = self.directory / source.file
        for candidate in (target, *(d / source.file for d in self.also)):
            if candidate.is_file() and sha256_file(candidate) == source.sha256:
                return FetchResult(source.id, "present", candidate)
        if from_dir is not None:
            candidate = from_dir / source.file
            if not candidate.is_file():
                raise CheckFailed(f"{candidate} not found", f"source {source.id} pins {source.file}",
                                  "point --from at a directory holding the pinned files")
            return FetchResult(source.id, "copied", self._store(source, candidate.read_bytes()))
        if source.url:
            return FetchResult(source.id, "downloaded", self._store(source, self.download(source.url)))
        return FetchResult(source.id, "rendered", self._store(source, self._render(source)))

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

    def _render(self, source: Source) -> bytes:
        """Check out the pinned commit and render each path with `kubectl kustomize`."""
        pin = source.git
        if pin is None:
            raise CheckFailed(f"source {source.id!r} has neither url nor git pin")
        work = Path(tempfile.mkdtemp(prefix="appliance-fetch-"))
        try:
            checkout = work / "repo"
            git = ["git", "-C", str(checkout)]
            self.runner.run(["git", "init", "--quiet", str(checkout)])
            self.runner.run([*git, "fetch", "--quiet", "--depth", "1", pin.repo, pin.commit],
                            timeout=600)
            self.runner.run([*git, "checkout", "--quiet", "FETCH_HEAD"])
            parts = []
            for index, path in enumerate(pin.paths):
                # --output keeps kustomize's warnings (stderr) out of the rendered text.
                rendered = work / f"part-{index}.yaml"
                self.runner.run(
                    ["kubectl", "kustomize", str(checkout / path), "--output", str(rendered)],
                    timeout=600,
                )
                part = rendered.read_text(encoding="utf-8")
                parts.append(part if part.endswith("\n") else part + "\n")
            text = "---\n".join(parts)
            for old, new in pin.substitutions:
                text = text.replace(old, new)
            return text.encode("utf-8")
        finally:
            shutil.rmtree(work, ignore_errors=True)
