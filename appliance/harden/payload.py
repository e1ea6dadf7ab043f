"""Structured documents held as text in a ConfigMap key (JSON or YAML): parse, edit, write back."""

from __future__ import annotations

import json
from typing import Any

import yaml


def dump_yaml(document: Any) -> str:
    """Block-style YAML in the document's own key order (stable bytes for the same document)."""
    text: str = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=4096,
                               allow_unicode=True)
    return text


def dump_json(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"


class Payload:
    """One ConfigMap key's document; `commit` writes the edited document back into the object."""

    def __init__(self, obj: dict[str, Any], key: str, document: Any, fmt: str) -> None:
        self.obj = obj
        self.key = key
        self.document = document
        self.fmt = fmt

    @staticmethod
    def open(obj: dict[str, Any], key: str, fmt: str) -> Payload | None:
        """The parsed document of data[key], or None when the key is absent or not parseable
        (then the object is not the config this module knows, and is left alone)."""
        text = (obj.get("data") or {}).get(key) if obj.get("kind") == "ConfigMap" else None
        if not isinstance(text, str):
            return None
        try:
            document = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError):
            return None
        return Payload(obj, key, document, fmt) if isinstance(document, dict) else None

    def path(self, inner: str) -> str:
        return f"data[{self.key}].{inner}" if inner else f"data[{self.key}]"

    def commit(self) -> None:
        self.obj["data"][self.key] = (dump_json(self.document) if self.fmt == "json"
                                      else dump_yaml(self.document))
