"""Strict decoding shared by versioned documents: every problem collected with its field path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def unknown_fields(data: dict[str, Any], allowed: set[str], prefix: str, problems: list[str]) -> None:
    """Append `<prefix><key>: unknown field` for every key outside `allowed`, in a stable order
    (keys are compared as text, so YAML keys of mixed types cannot break the sort)."""
    for key in sorted(set(map(str, data)) - allowed):
        problems.append(f"{prefix}{key}: unknown field")


def describe(value: Any) -> str:
    """What a decoded YAML value is, in words: 'a list', 'a number', ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Problems:
    """Decodes a document's fields while collecting `path: message` problems (and notes), so that
    one pass reports every problem at once. Each reader returns a usable empty value on a problem."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.notes: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def note(self, text: str) -> None:
        self.notes.append(text)

    def mapping(self, value: Any, path: str, required: bool = True) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, got {describe(value)}")
            return None
        return value

    def known(self, mapping: Mapping[str, Any], allowed: set[str], path: str) -> None:
        """Every key outside `allowed` is a problem that lists the allowed ones."""
        for key in mapping:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else str(key),
                         f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def string(self, value: Any, path: str, required: bool = False) -> str:
        if value is None or value == "":
            if required:
                self.add(path, "is required")
            return ""
        if not isinstance(value, str):
            self.add(path, f"must be a string, got {describe(value)} (quote it: \"{value}\")")
            return ""
        return value

    def integer(self, value: Any, path: str, maximum: int | None = None, what: str = "") -> int | None:
        """An optional integer; beyond ±`maximum` it is a problem saying it does not fit `what`."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"must be an integer, got {describe(value)}")
            return None
        if maximum is not None and abs(value) > maximum:
            self.add(path, f"{value} does not fit in {what or f'±{maximum}'}")
            return None
        return value

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {describe(value)}")
            return []
        return value
