"""Transform: CPU and memory requests and limits on every container that lacks them."""

from __future__ import annotations

from typing import Any

from appliance.harden.model import Change, HardenContext, Result, containers, copy, pod_spec
from appliance.k8s import quantity
from appliance.k8s.refs import ResourceRef

NAME = "resources"


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    defaults = ctx.default_resources
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    for obj in objects:
        if pod_spec(obj) is None:
            out.append(obj)
            continue
        new = copy(obj)
        found = pod_spec(new)
        assert found is not None
        ref = ResourceRef.of(obj)
        before = len(changes)
        for container, path in containers(*found):
            changes += _fill(container, path, ref, defaults)
        out.append(new if len(changes) > before else obj)
    return Result(out, changes)


def _fill(
    container: dict[str, Any], path: str, ref: ResourceRef, defaults: dict[str, dict[str, str]]
) -> list[Change]:
    resources = container.setdefault("resources", {})
    requests = resources.setdefault("requests", {})
    limits = resources.setdefault("limits", {})
    changes: list[Change] = []
    for resource in ("cpu", "memory"):
        if resource not in requests and resource in defaults.get("requests", {}):
            # A lone limit means request == limit to Kubernetes; keep that meaning explicit.
            requests[resource] = limits.get(resource, defaults["requests"][resource])
            changes.append(Change(NAME, ref, f"{path}.resources.requests.{resource}",
                                  f"unset -> {requests[resource]}"))
        if resource not in limits and resource in defaults.get("limits", {}):
            limit = defaults["limits"][resource]
            if resource in requests and quantity.parse(requests[resource]) > quantity.parse(limit):
                limit = requests[resource]  # never a limit below the request
            limits[resource] = limit
            changes.append(Change(NAME, ref, f"{path}.resources.limits.{resource}", f"unset -> {limit}"))
    return changes
