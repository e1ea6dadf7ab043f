"""Strict decoding shared by versioned documents: unknown keys are problems, reported by path."""

from __future__ import annotations

from typing import Any


def unknown_fields(data: dict[str, Any], allowed: set[str], prefix: str, problems: list[str]) -> None:
    """Append `<prefix><key>: unknown field` for every key outside `allowed`, in a stable order
    (keys are compared as text, so YAML keys of mixed types cannot break the sort)."""
    for key in sorted(set(map(str, data)) - allowed):
        problems.append(f"{prefix}{key}: unknown field")
