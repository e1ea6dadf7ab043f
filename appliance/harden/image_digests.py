"""Transform: pin images by digest from the lock file; images without a lock entry stay tags.
Runtime images (env, flags and config documents naming what controllers start) are pinned too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from appliance.harden import runtime
from appliance.harden.model import Change, HardenContext, Result, containers, copy, pod_spec
from appliance.k8s.refs import ResourceRef
from appliance.sources.images import pin

NAME = "image-digests"


def image_fields(obj: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every container dict holding an `image`, with its path: pod templates and KServe runtimes."""
    found = pod_spec(obj)
    if found is not None:
        yield from containers(*found)
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if obj.get("kind") in ("ClusterServingRuntime", "ServingRuntime"):
        for index, container in enumerate(spec.get("containers") or []):
            if isinstance(container, dict):
                yield container, f"spec.containers[{index}]"
    if obj.get("kind") == "ClusterStorageContainer" and isinstance(spec.get("container"), dict):
        yield spec["container"], "spec.container"


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    for obj in objects:
        new = copy(obj)
        found: list[Change] = []
        for container, path in image_fields(new):
            image = container.get("image")
            pinned = pin(image, ctx.image_lock) if isinstance(image, str) else None
            if pinned:
                container["image"] = pinned
                found.append(Change(NAME, ResourceRef.of(obj), f"{path}.image", f"{image} -> {pinned}"))
        slots, payloads = runtime.image_slots(new)
        before = len(found)
        for slot in slots:
            image = slot.get()
            pinned = pin(image, ctx.image_lock)
            if pinned:
                slot.set(pinned)
                found.append(Change(NAME, ResourceRef.of(obj), slot.path, f"{image} -> {pinned}"))
        if len(found) > before:
            for payload in payloads:
                payload.commit()
        changes += found
        out.append(new if found else obj)
    return Result(out, changes)
