"""Reading untrusted object data: a field that is not a mapping (or list) reads as an empty one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a mapping, else {} (absent, null or mistyped fields read as empty)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a list, else []."""
    return value if isinstance(value, list) else []


def conditions(obj: Any) -> dict[str, dict[str, Any]]:
    """An object's `status.conditions` by type (the last of a type wins, as `kubectl wait` reads them)."""
    found = as_list(as_dict(as_dict(obj).get("status")).get("conditions"))
    return {str(as_dict(c).get("type")): as_dict(c) for c in found}


def field_path(path: Iterable[str | int]) -> str:
    """A field path as the API server writes it: `spec.containers[0].name`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
