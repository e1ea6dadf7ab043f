"""Catalog patch operations (rewiring and sizing) and namespace moves, applied to one object."""

from __future__ import annotations

import json
from typing import Any

import yaml

from appliance.catalog.model import Patch
from appliance.harden.model import containers, copy, pod_spec
from appliance.harden.payload import dump_json, dump_yaml


class PatchError(Exception):
    """A patch that does not fit its target (stale catalog entry); the message names why."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: mappings merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy({"v": patch})["v"] if isinstance(patch, list) else patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(obj: dict[str, Any], patch: Patch) -> dict[str, Any]:
    """A patched copy of obj; PatchError when the patch does not apply."""
    new = copy(obj)
    args = patch.args
    if patch.op == "merge":
        merged: dict[str, Any] = merge_patch(new, args["merge"])
        return merged
    if patch.op == "json-merge":
        data = new.get("data") or {}
        key = args["key"]
        if key not in data:
            raise PatchError(f"data key {key!r} not found")
        try:
            current = json.loads(data[key])
        except json.JSONDecodeError as exc:
            raise PatchError(f"data key {key!r} is not JSON: {exc}") from exc
        data[key] = dump_json(merge_patch(current, args["merge"]))
        return new
    if patch.op == "yaml-merge":
        data = new.get("data") or {}
        key = args["key"]
        if key not in data:
            raise PatchError(f"data key {key!r} not found")
        try:
            document = yaml.safe_load(data[key])
        except yaml.YAMLError as exc:
            raise PatchError(f"data key {key!r} is not YAML: {exc}".replace("\n", " ")) from exc
        if "each" in args:
            items = _walk(document, str(args["each"]))
            if not isinstance(items, list) or not items:
                raise PatchError(f"{args['each']!r} in data key {key!r} is not a non-empty list")
            items[:] = [merge_patch(item, args["merge"]) for item in items]
        else:
            document = merge_patch(document, args["merge"])
        data[key] = dump_yaml(document)
        return new
    if patch.op == "replace-text":
        path = args.get("path", "")
        node = _walk(new, path) if path else new
        replaced, count = _replace(node, str(args["old"]), str(args["new"]))
        if count == 0:
            raise PatchError(f"text {args['old']!r} not found under {path or 'the object'}")
        result: dict[str, Any] = _put(new, path, replaced) if path else replaced
        return result
    container = _container(new, str(args["container"]))
    if patch.op == "container-merge":
        merged = merge_patch(container, args["merge"])
        container.clear()
        container.update(merged)
    elif patch.op == "set-env":
        env = container.setdefault("env", [])
        for entry in args["env"]:
            existing = [i for i, e in enumerate(env) if e.get("name") == entry["name"]]
            if existing:
                env[existing[0]] = copy(entry)
            else:
                env.append(copy(entry))
    elif patch.op == "remove-env":
        names = set(args["names"])
        present = {e.get("name") for e in container.get("env") or []}
        if names - present:
            raise PatchError(f"env {sorted(names - present)} not set in container {args['container']!r}")
        container["env"] = [e for e in container.get("env") or [] if e.get("name") not in names]
    elif patch.op == "remove-container":
        found = pod_spec(new)
        assert found is not None
        spec = found[0]
        spec["containers"] = [c for c in spec["containers"] if c.get("name") != args["container"]]
    return new


def patched_path(obj: dict[str, Any], patch: Patch) -> str:
    """Where a patch edits its target, as a field path (for the hardening record)."""
    args = patch.args
    if patch.op in ("json-merge", "yaml-merge"):
        each = f".{args['each']}[*]" if "each" in args else ""
        return f"data[{args['key']}]{each}"
    if patch.op == "replace-text":
        return str(args.get("path", ""))
    if patch.op == "merge":
        return _merge_path(args["merge"])
    found = pod_spec(obj)
    if found is not None:
        for container, path in containers(*found):
            if container.get("name") == args["container"]:
                return f"{path}.env" if patch.op in ("set-env", "remove-env") else path
    return f"container {args['container']}"


def _merge_path(merge: Any, prefix: str = "") -> str:
    # The deepest single-key chain of a merge document: what it edits, in one path.
    if isinstance(merge, dict) and len(merge) == 1:
        [(key, value)] = merge.items()
        return _merge_path(value, f"{prefix}.{key}" if prefix else str(key))
    return prefix


def _container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    found = pod_spec(obj)
    if found is None:
        raise PatchError("not a workload with a pod template")
    for container, _path in containers(*found):
        if container.get("name") == name:
            return container
    raise PatchError(f"no container {name!r}")


def _walk(node: Any, path: str) -> Any:
    # Keys may contain dots (ConfigMap keys such as katib-config.yaml): prefer the longest key.
    if isinstance(node, dict) and path in node:
        return node[path]
    head, dot, rest = path.partition(".")
    if not dot or not isinstance(node, dict) or head not in node:
        raise PatchError(f"path {path!r} not found")
    return _walk(node[head], rest)


def _put(node: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    if path in node:
        node[path] = value
        return node
    head, _, rest = path.partition(".")
    _put(node[head], rest, value)
    return node


def _replace(node: Any, old: str, new: str) -> tuple[Any, int]:
    if isinstance(node, str):
        return node.replace(old, new), node.count(old)
    if isinstance(node, list):
        pairs = [_replace(item, old, new) for item in node]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    if isinstance(node, dict):
        total = 0
        out = {}
        for key, value in node.items():
            out[key], count = _replace(value, old, new)
            total += count
        return out, total
    return node, 0


def move_namespaces(obj: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Move an object (and every namespace reference it holds) per old -> new namespace."""
    if not mapping:
        return obj
    new = copy(obj)
    metadata = new.setdefault("metadata", {})
    if metadata.get("namespace") in mapping:
        metadata["namespace"] = mapping[metadata["namespace"]]
    if new.get("kind") == "Namespace" and metadata.get("name") in mapping:
        metadata["name"] = mapping[metadata["name"]]
    for subject in new.get("subjects") or []:
        if subject.get("namespace") in mapping:
            subject["namespace"] = mapping[subject["namespace"]]
    services = [w.get("clientConfig", {}).get("service") for w in new.get("webhooks") or []]
    spec: dict[str, Any] = new["spec"] if isinstance(new.get("spec"), dict) else {}
    conversion = (spec.get("conversion") or {}).get("webhook") or {}
    services.append(conversion.get("clientConfig", {}).get("service"))
    if new.get("kind") == "APIService":
        services.append(spec.get("service"))
    for service in services:
        if isinstance(service, dict) and service.get("namespace") in mapping:
            service["namespace"] = mapping[service["namespace"]]
    return new
