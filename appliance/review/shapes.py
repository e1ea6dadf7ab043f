"""Shape checks of the fields the rules read: a list or mapping where Kubernetes requires one."""

from __future__ import annotations

from typing import Any

from appliance.errors import InvalidDocument
from appliance.k8s.data import field_path
from appliance.review.loader import Document
from appliance.review.model import Path
from appliance.review.podspecs import _TEMPLATE_PATHS, CONTAINER_LISTS, pod_views

_FIX = "give each field the type the Kubernetes API defines (a list or a mapping as shown)"
_POD_LISTS = ("volumes", *CONTAINER_LISTS)
_CONTAINER_LISTS = ("ports", "env", "envFrom", "volumeMounts")
_RULE_LISTS = ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")


def check(documents: list[Document]) -> None:
    """Raise InvalidDocument naming file:line and field of every wrongly shaped field, so a
    malformed manifest is bad input (exit 2) instead of a crash or a silent pass."""
    problems: list[str] = []
    for doc in documents:
        problems += [f"{doc.source}:{doc.line_of(path)}: {field_path(path)} {why}"
                     for path, why in _document(doc.obj)]
    if problems:
        sources = sorted({d.source for d in documents})
        raise InvalidDocument(", ".join(sources), problems, _FIX)


def _document(obj: dict[str, Any]) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    kind = str(obj.get("kind") or "")
    _mapping(obj, ("metadata",), out)
    spec = obj.get("spec")
    if not _mapping(obj, ("spec",), out):
        return out
    if kind in _TEMPLATE_PATHS:
        path = _TEMPLATE_PATHS[kind]
        if all(_mapping(obj, path[:i], out) for i in range(1, len(path) + 1)):
            _mapping(obj, (*path, "spec"), out)
    if kind == "Service" and isinstance(spec, dict):
        _list_of_mappings(obj, ("spec", "ports"), out)
        _list(obj, ("spec", "externalIPs"), out)
    if kind in ("Role", "ClusterRole"):
        for i in _list_of_mappings(obj, ("rules",), out):
            for key in _RULE_LISTS:
                _list(obj, ("rules", i, key), out)
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        _mapping(obj, ("roleRef",), out)
        _list_of_mappings(obj, ("subjects",), out)
    if kind == "NetworkPolicy" and isinstance(spec, dict):
        _mapping(obj, ("spec", "podSelector"), out)
        for key in ("ingress", "egress"):
            _list_of_mappings(obj, ("spec", key), out)
        _list(obj, ("spec", "policyTypes"), out)
    for view in pod_views(obj):
        for key in _POD_LISTS:
            _list_of_mappings(obj, (*view.spec_path, key), out)
        _mapping(obj, (*view.spec_path, "securityContext"), out)
        for c in view.containers:
            for key in _CONTAINER_LISTS:
                _list_of_mappings(obj, (*c.path, key), out)
            _mapping(obj, (*c.path, "securityContext"), out)
    return _unique(out)


def _at(obj: Any, path: Path) -> tuple[bool, Any]:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not 0 <= part < len(obj):
                return False, None
            obj = obj[part]
        else:
            if not isinstance(obj, dict) or part not in obj:
                return False, None
            obj = obj[part]
    return True, obj


def _mapping(obj: dict[str, Any], path: Path, out: list[tuple[Path, str]]) -> bool:
    """True when the field is a mapping or absent/null (nothing below it to check then)."""
    found, value = _at(obj, path)
    if not found or value is None or isinstance(value, dict):
        return True
    out.append((path, f"must be a mapping, got {_type(value)}"))
    return False


def _list(obj: dict[str, Any], path: Path, out: list[tuple[Path, str]]) -> list[Any]:
    found, value = _at(obj, path)
    if not found or value is None:
        return []
    if not isinstance(value, list):
        out.append((path, f"must be a list, got {_type(value)}"))
        return []
    return value


def _list_of_mappings(obj: dict[str, Any], path: Path, out: list[tuple[Path, str]]) -> list[int]:
    """Indexes of the mapping items; every other item is a problem."""
    good = []
    for i, item in enumerate(_list(obj, path, out)):
        if isinstance(item, dict):
            good.append(i)
        else:
            out.append(((*path, i), f"must be a mapping, got {_type(item)}"))
    return good


def _unique(items: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    return list(dict.fromkeys(items))


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
