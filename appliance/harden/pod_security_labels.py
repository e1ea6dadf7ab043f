"""Transform: Pod Security Admission labels (enforce, audit, warn) on every owned namespace."""

from __future__ import annotations

from typing import Any

from appliance.harden.model import Change, HardenContext, Result, copy
from appliance.k8s.refs import ResourceRef

NAME = "pod-security-labels"
MODES = ("enforce", "audit", "warn")


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    wanted: dict[str, str] = {}
    for mode in MODES:
        wanted[f"pod-security.kubernetes.io/{mode}"] = ctx.posture
        wanted[f"pod-security.kubernetes.io/{mode}-version"] = f"v{ctx.kubernetes_version}"
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    for obj in objects:
        name = (obj.get("metadata") or {}).get("name")
        if obj.get("kind") != "Namespace" or name not in ctx.owned_namespaces:
            out.append(obj)
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        differing = {k: v for k, v in wanted.items() if labels.get(k) != v}
        if not differing:
            out.append(obj)
            continue
        new = copy(obj)
        new.setdefault("metadata", {}).setdefault("labels", {}).update(differing)
        ref = ResourceRef.of(obj)
        for key, value in sorted(differing.items()):
            before = labels.get(key)
            detail = f"{value}" if before is None else f"{before} -> {value}"
            changes.append(Change(NAME, ref, f"metadata.labels[{key}]", detail))
        out.append(new)
    return Result(out, changes)
