"""The upstream cache: where pinned files are looked up, verified by sha256, and parsed once."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from appliance.catalog.model import Source
from appliance.errors import CheckFailed, InvalidDocument, MissingPrerequisite

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def write_dir() -> Path:
    """Where `appliance fetch` stores files: $APPLIANCE_CACHE, else the user's cache dir."""
    configured = os.environ.get("APPLIANCE_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("appliance")) / "upstream"


def cache_dirs() -> list[Path]:
    """Lookup order. $APPLIANCE_CACHE alone when set; else the user cache, then $APPLIANCE_UPSTREAM.

    APPLIANCE_UPSTREAM names a read-only folder of pinned upstream files (a development checkout's
    Makefile and CI point it at theirs); files found there are verified like any cache entry.
    """
    if os.environ.get("APPLIANCE_CACHE"):
        return [write_dir()]
    dirs = [write_dir()]
    upstream = os.environ.get("APPLIANCE_UPSTREAM")
    if upstream and Path(upstream).expanduser().is_dir():
        dirs.append(Path(upstream).expanduser())
    return dirs


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, source: Source) -> None:
    actual = sha256_file(path)
    if actual != source.sha256:
        raise CheckFailed(
            f"cache entry {path} does not match its pin (source {source.id})",
            f"sha256 {actual}, pinned {source.sha256}",
            f"delete {path} and run `appliance fetch`",
        )


def locate(source: Source) -> Path:
    """The verified cache file of a source, or a clear error naming `appliance fetch`."""
    dirs = cache_dirs()
    for directory in dirs:
        candidate = directory / source.file
        if candidate.is_file():
            verify_file(candidate, source)
            return candidate
    raise MissingPrerequisite(
        f"upstream source {source.id!r} ({source.file}) is not in the cache",
        "looked in " + ", ".join(str(d) for d in dirs),
        "run `appliance fetch` while online (or set APPLIANCE_CACHE to a directory holding it)",
    )


def read_documents(source: Source) -> list[dict[str, Any]]:
    """The source's objects (a fresh copy every call: callers transform them in place)."""
    path = locate(source)
    docs: list[dict[str, Any]] = json.loads(_parsed(str(path), source.sha256))
    return docs


@lru_cache(maxsize=16)
def _parsed(path: str, sha256: str) -> str:
    # Cached as JSON text: parsing YAML is the slow part, json.loads gives cheap deep copies.
    text = Path(path).read_text(encoding="utf-8")
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d]
    except yaml.YAMLError as exc:
        raise InvalidDocument(path, [f"not valid YAML: {exc}".replace("\n", " ")]) from exc
    bad = [i for i, d in enumerate(docs) if not (isinstance(d, dict) and d.get("kind"))]
    if bad:
        raise InvalidDocument(path, [f"document {i}: not a Kubernetes object" for i in bad])
    return json.dumps(docs)


def store_bytes(directory: Path, name: str, payload: bytes) -> Path:
    """Write a cache entry atomically (readers never see half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        target = directory / name
        os.replace(tmp, target)
        return target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
