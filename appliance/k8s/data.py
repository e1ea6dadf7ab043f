"""Reading untrusted object data: a field that is not a mapping (or list) reads as an empty one."""

from __future__ import annotations

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
