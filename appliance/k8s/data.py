"""Reading untrusted object data: a field that is not a mapping (or list) reads as an empty one."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a mapping, else {} (absent, null or mistyped fields read as empty)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a list, else []."""
    return value if isinstance(value, list) else []
