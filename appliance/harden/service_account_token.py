"""Transform: no API token in pods that never call the API server (the catalog's apiServer list)."""

from __future__ import annotations

from typing import Any

from appliance.harden.model import Change, HardenContext, Result, copy, pod_spec
from appliance.k8s.refs import ResourceRef
from appliance.k8s.selectors import selector_matches

NAME = "service-account-token"


def _pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    template = spec.get("jobTemplate", {}).get("spec", {}).get("template") if obj.get("kind") == "CronJob" \
        else spec.get("template")
    if obj.get("kind") == "Pod":
        return dict((obj.get("metadata") or {}).get("labels") or {})
    return dict(((template or {}).get("metadata") or {}).get("labels") or {})


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    for obj in objects:
        ref = ResourceRef.of(obj)
        found = pod_spec(obj)
        if found is None or ref.namespace not in ctx.owned_namespaces:
            out.append(obj)
            continue
        spec, path = found
        labels = _pod_labels(obj)
        calls_api = any(ns == ref.namespace and selector_matches(access.pods, labels)
                        for ns, access in ctx.api_server)
        if calls_api or spec.get("automountServiceAccountToken") is False:
            out.append(obj)
            continue
        new = copy(obj)
        found_new = pod_spec(new)
        assert found_new is not None
        before = spec.get("automountServiceAccountToken")
        found_new[0]["automountServiceAccountToken"] = False
        changes.append(Change(NAME, ref, f"{path}.automountServiceAccountToken",
                              f"{'unset' if before is None else str(before).lower()} -> false"))
        out.append(new)
    return Result(out, changes)
