"""Image preload into a kind node: inspect/pull on the host, `docker save --platform`, load, verify."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ExternalCommandFailed
from appliance.k8s.images import ImageRef
from appliance.runtime.process import CommandResult, CommandRunner
from appliance.targets.kind.cluster import KindCluster, explain

PULL_ATTEMPTS = 5
# KFP CI's pull_image_with_backoff: 5 attempts, sleeping 20 s × attempt between them.
PULL_BACKOFF_SECONDS = 20.0
INSPECT_TIMEOUT = 30.0
PULL_TIMEOUT = 600.0
SAVE_TIMEOUT = 600.0
CRICTL_TIMEOUT = 60.0
# Pull failures that a retry cannot fix: the name, tag or access is wrong, or there is no daemon to ask.
_PERMANENT = ("manifest unknown", "not found: manifest", "pull access denied", "invalid reference format",
              "repository does not exist", "unauthorized", "cannot connect to the docker daemon",
              "permission denied while trying to connect to the docker daemon")
_HINT_3795 = ("the node lacks images the archive should have held; with Docker's containerd image "
              "store (Docker 29 default) multi-platform archives import incompletely "
              "(kubernetes-sigs/kind#3795)")


@dataclass(frozen=True)
class Plan:
    """Which references get preloaded (tags) and which are left to the node's own pull (digests)."""

    preload: tuple[str, ...]
    by_digest: tuple[str, ...]


@dataclass(frozen=True)
class LocalImage:
    """The parts of `docker image inspect` the preload decides on."""

    id: str
    os: str
    architecture: str


@dataclass(frozen=True)
class Report:
    """What was preloaded, pulled first, left to the node (digests); the archive if it was kept."""

    preloaded: tuple[str, ...]
    pulled: tuple[str, ...]
    by_digest: tuple[str, ...]
    archive: Path | None


def plan(images: Iterable[str]) -> Plan:
    """Digest references are not preloaded: a loaded single-platform image has another manifest digest,
    so kind cannot satisfy `name@sha256:…` with it (kind#2394, #4028); the node pulls those itself."""
    unique = sorted(set(images))
    return Plan(tuple(i for i in unique if "@" not in i), tuple(i for i in unique if "@" in i))


def platform_of(architecture: str) -> str:
    return f"linux/{architecture}"


def inspect_argv(ref: str) -> list[str]:
    return ["docker", "image", "inspect", ref]


def pull_argv(ref: str, platform: str) -> list[str]:
    return ["docker", "pull", "--platform", platform, ref]


def save_argv(refs: Sequence[str], platform: str, archive: Path) -> list[str]:
    # One platform only: the kind#3795 workaround (docs in kind#4247); needs Docker API 1.48.
    return ["docker", "save", "--platform", platform, "-o", str(archive), *refs]


def crictl_images_argv(node: str) -> list[str]:
    return ["docker", "exec", node, "crictl", "images", "-o", "json"]


def parse_inspect(output: str) -> LocalImage | None:
    """The image `docker image inspect` found, or None ('[]' and 'No such image')."""
    start = output.find("[")
    if start < 0:
        return None
    try:
        records, _ = json.JSONDecoder().raw_decode(output[start:])
    except ValueError:
        return None
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        return None
    first = records[0]
    return LocalImage(str(first.get("Id", "")), str(first.get("Os", "")), str(first.get("Architecture", "")))


def normalize(ref: str) -> str:
    """A reference as containerd names it: `mysql:8.4` → `docker.io/library/mysql:8.4`."""
    parsed = ImageRef.parse(ref)
    name = f"{parsed.registry}/{parsed.repository}"
    return f"{name}:{parsed.tag}" if parsed.tag else name


def parse_crictl_images(output: str) -> set[str]:
    """Every repo tag `crictl images -o json` lists in the node."""
    try:
        data = json.loads(output)
    except ValueError as exc:
        raise ValueError(f"crictl printed no JSON: {output.strip()[:200]!r}") from exc
    tags: set[str] = set()
    for image in data.get("images") or []:
        tags.update(str(tag) for tag in image.get("repoTags") or [])
    return tags


def missing_in_node(expected: Iterable[str], node_tags: set[str]) -> list[str]:
    return sorted(ref for ref in expected if normalize(ref) not in node_tags)


def permanent_pull_failure(output: str) -> bool:
    lowered = output.lower()
    return any(text in lowered for text in _PERMANENT)


def archive_name(images: Sequence[tuple[str, str]], platform: str) -> str:
    """Named by content (references, image IDs, platform), so an unchanged set reuses its archive."""
    digest = hashlib.sha256(json.dumps([platform, sorted(images)]).encode()).hexdigest()[:16]
    return f"images-{digest}.tar"


class Preloader:
    """Makes every tag reference of an inventory present in the kind node, or says which is not."""

    def __init__(
        self,
        runner: CommandRunner,
        cluster: KindCluster,
        architecture: str,
        cache_dir: Path,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = lambda message: None,
        attempts: int = PULL_ATTEMPTS,
        backoff: float = PULL_BACKOFF_SECONDS,
        keep_archive: bool = False,
    ) -> None:
        self.runner = runner
        self.cluster = cluster
        self.architecture = architecture
        self.platform = platform_of(architecture)
        self.cache_dir = cache_dir
        self.sleep = sleep
        self.progress = progress
        self.attempts = attempts
        self.backoff = backoff
        # The archive is a third copy of every image (host store, node, tar): by default it goes once
        # loaded; CI keeps it to cache warm runs.
        self.keep_archive = keep_archive

    def _run(self, argv: list[str], timeout: float) -> CommandResult:
        return self.runner.run(argv, timeout=timeout, check=False)

    def local(self, ref: str) -> LocalImage | None:
        """The host's copy of ref when it is for the node's platform."""
        found = parse_inspect(self._run(inspect_argv(ref), INSPECT_TIMEOUT).output)
        if found is None or found.architecture != self.architecture:
            return None  # absent, or e.g. an amd64 copy on an arm64 host: pull the node's platform
        return found

    def pull(self, ref: str) -> LocalImage:
        argv = pull_argv(ref, self.platform)
        for attempt in range(1, self.attempts + 1):
            result = self._run(argv, PULL_TIMEOUT)
            if result.returncode == 0:
                found = self.local(ref)
                if found is None:
                    raise ExternalCommandFailed(argv, result.output, f"pulled, but no {self.platform} image",
                                                f"check that {ref} is published for {self.platform}")
                return found
            if permanent_pull_failure(result.output):
                known = explain(argv, result)
                if known.fix:  # e.g. the daemon went away
                    raise known
                raise ExternalCommandFailed(argv, result.output, "the registry refused this reference",
                                            "check the image name, tag and registry login")
            if attempt == self.attempts:
                error = explain(argv, result)
                raise ExternalCommandFailed(argv, result.output, f"failed {self.attempts} times",
                                            error.fix or "check the network and registry rate limits "
                                            "(docker login raises Docker Hub's limit)")
            self.progress(f"pull {ref} failed (attempt {attempt}/{self.attempts}); retrying")
            self.sleep(self.backoff * attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def save(self, images: Sequence[tuple[str, str]]) -> Path:
        """One single-platform archive of all images, reused while its contents are unchanged."""
        archive = self.cache_dir / archive_name(images, self.platform)
        if archive.exists():
            return archive
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".partial")
        argv = save_argv([ref for ref, _ in images], self.platform, partial)
        result = self._run(argv, SAVE_TIMEOUT)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise explain(argv, result)
        os.replace(partial, archive)  # an interrupted save never leaves a reusable-looking archive
        return archive

    def verify(self, refs: Sequence[str]) -> None:
        argv = crictl_images_argv(self.cluster.node)
        result = self._run(argv, CRICTL_TIMEOUT)
        if result.returncode != 0:
            raise explain(argv, result)
        try:
            tags = parse_crictl_images(result.output)
        except ValueError as exc:
            raise ExternalCommandFailed(argv, result.output, str(exc)) from exc
        missing = missing_in_node(refs, tags)
        if missing:
            raise ExternalCommandFailed(
                argv, "\n".join(f"not in node: {ref}" for ref in missing),
                f"{len(missing)} of {len(refs)} images missing after 'kind load image-archive'",
                _HINT_3795 + "; run 'appliance diagnose' and check the node's containerd log",
            )

    def run(self, images: Iterable[str]) -> Report:
        chosen = plan(images)
        present: list[tuple[str, str]] = []
        pulled: list[str] = []
        for ref in chosen.preload:
            found = self.local(ref)
            if found is None:
                self.progress(f"pulling {ref} ({self.platform})")
                found = self.pull(ref)
                pulled.append(ref)
            present.append((ref, found.id))
        if not present:
            return Report((), (), chosen.by_digest, None)
        archive = self.save(present)
        try:
            self.progress(f"loading {len(present)} images into {self.cluster.node}")
            self.cluster.load_archive(archive)
            self.verify(chosen.preload)
        finally:
            if not self.keep_archive:
                archive.unlink(missing_ok=True)
        return Report(chosen.preload, tuple(pulled), chosen.by_digest, archive if self.keep_archive else None)
