"""What a review reads: manifest files, a rendered profile (through the renderer seam), reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from appliance.errors import BadInput, MissingPrerequisite
from appliance.review import exceptions as exc_mod
from appliance.review.exceptions import ExceptionRecord
from appliance.review.loader import Document, load_objects, load_paths, load_text
from appliance.review.model import Report


@dataclass
class ReviewInput:
    """Documents to review, the catalog exceptions that came with them, and a label."""

    label: str
    documents: list[Document]
    exceptions: list[ExceptionRecord] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def from_files(paths: list[str]) -> ReviewInput:
    documents = load_paths(paths)
    return ReviewInput(" ".join(paths), documents, [], sorted({d.source for d in documents}))


def render_profile(name: str) -> Any:
    """The renderer seam: appliance.render's rendered bundle of a profile, imported lazily."""
    try:
        from appliance.render import render_profile as render
    except ImportError as exc:
        raise MissingPrerequisite(
            f"cannot review profile {name!r}",
            f"the profile renderer (appliance.render) is not available: {exc}",
            "review rendered manifests with -f FILE instead") from None
    return render(name)


def from_profile(name: str, known_rules: set[str]) -> ReviewInput:
    label = f"profile:{name}"
    return coerce_rendered(render_profile(name), label, known_rules)


def coerce_rendered(rendered: Any, label: str, known_rules: set[str]) -> ReviewInput:
    """Accept what a renderer returns: YAML text, a list of objects, or an object/dict carrying
    `manifests` (text or objects) and `exceptions` (catalog exception records)."""
    manifests: Any = rendered
    records: Any = []
    if isinstance(rendered, dict) and "kind" not in rendered:
        manifests = _first(rendered, ("manifests", "objects", "documents", "yaml", "text"))
        records = rendered.get("exceptions") or []
    elif hasattr(rendered, "to_yaml"):
        # The rendered YAML (the bytes `appliance render` writes) gives findings line numbers.
        manifests = rendered.to_yaml()
        records = getattr(rendered, "exceptions", None) or []
    elif not isinstance(rendered, (str, list)):
        manifests = _first_attr(rendered, ("manifests", "objects", "documents", "yaml", "text"))
        records = getattr(rendered, "exceptions", None) or []
    if isinstance(manifests, bytes):
        manifests = manifests.decode("utf-8")
    if isinstance(manifests, str):
        documents = load_text(manifests, label)
    elif isinstance(manifests, list) and all(isinstance(m, str) for m in manifests):
        documents = load_text("\n---\n".join(manifests), label)
    elif isinstance(manifests, list):
        documents = load_objects([_as_dict(m) for m in manifests], label)
    else:
        raise BadInput(f"{label}: the renderer returned {type(rendered).__name__}",
                       "expected YAML text or a list of manifests",
                       "report this as a bug in appliance.render")
    exceptions = exc_mod.parse([_as_dict(r) for r in records], f"{label} catalog", known_rules)
    return ReviewInput(label, documents, exceptions, [label])


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in data:
            return data[key]
    return None


def _first_attr(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if hasattr(obj, name):
            value = getattr(obj, name)
            return value() if callable(value) else value
    return None


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "to_dict"):
        return dict(item.to_dict())
    if hasattr(item, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(item)
    return dict(vars(item))


def load_report(path: str) -> Report:
    from appliance.review.formats.json import parse_report

    try:
        data = json.loads(FsPath(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such report", fix="pass a JSON report path") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not a JSON report", f"line {exc.lineno}: {exc.msg}",
                       "write one with `appliance review --format json -o FILE`") from None
    return parse_report(data, path)


def is_report(path: str) -> bool:
    """A JSON review report (as opposed to manifests) given to --diff."""
    if not path.endswith(".json"):
        return False
    try:
        head = FsPath(path).read_text(encoding="utf-8")[:4096].lstrip()
    except OSError:
        return False
    return head.startswith("{") and '"findings"' in head
