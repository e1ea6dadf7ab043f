"""The image digest lock: what `appliance lock` writes and render pins images with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.errors import InvalidDocument
from appliance.k8s.images import DIGEST
from appliance.paths import shipped

LOCK_PATH = shipped("images.lock.yaml")
LOCK_API_VERSION = "appliance.dev/v1alpha1"


def pin(image: str, lock: dict[str, str]) -> str | None:
    """`image:tag@digest` when the lock has the tag, else None (the image stays a tag)."""
    if "@" in image:
        return None
    digest = lock.get(image)
    return f"{image}@{digest}" if digest else None


def load_lock(path: Path = LOCK_PATH) -> dict[str, str]:
    """The lock's image -> digest map; an absent file is an empty lock."""
    if not path.is_file():
        return {}
    try:
        data: Any = safe_yaml.load(path.read_text(encoding="utf-8"), str(path))
    except yaml.YAMLError as exc:
        raise InvalidDocument(str(path), [f"not valid YAML: {exc}".replace("\n", " ")]) from exc
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InvalidDocument(str(path), ["expected a mapping"])
    for key in sorted(set(data) - {"apiVersion", "kind", "images"}):
        problems.append(f"{key}: unknown field")
    if data.get("apiVersion") != LOCK_API_VERSION or data.get("kind") != "ImageLock":
        problems.append(f"expected apiVersion {LOCK_API_VERSION} and kind ImageLock")
    images = data.get("images") or {}
    if not isinstance(images, dict):
        problems.append("images: expected a mapping of image to digest")
        images = {}
    for image, digest in images.items():
        if not isinstance(digest, str) or not DIGEST.match(digest):
            problems.append(f"images.{image}: expected sha256:<64 hex>, got {digest!r}")
        elif "@" in str(image):
            problems.append(f"images.{image}: key must be a tag reference without a digest")
    if problems:
        raise InvalidDocument(str(path), problems, "run `appliance lock` to rewrite it")
    return {str(k): str(v) for k, v in images.items()}


def dump_lock(images: dict[str, str]) -> str:
    body = {"apiVersion": LOCK_API_VERSION, "kind": "ImageLock", "images": dict(sorted(images.items()))}
    header = "# Image digests resolved by `appliance lock`; render pins the images found here.\n"
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def updated_lock(current: dict[str, str], resolved: dict[str, str],
                 wanted: set[str] | None) -> dict[str, str]:
    """The lock after a run: resolved digests replace old ones; with `wanted` (every image of every
    profile, from a run over all of them) entries no profile uses any more are dropped."""
    merged = {**current, **resolved}
    return merged if wanted is None else {k: v for k, v in merged.items() if k in wanted}


def checkout_lock() -> Path | None:
    """The shipped lock when the shipped data is a checkout's profiles/ folder (an editable install
    of a repository, whose lock is committed); None from a wheel, whose data is site-packages."""
    root = shipped()
    return root / "images.lock.yaml" if (root.parent / "pyproject.toml").is_file() else None
