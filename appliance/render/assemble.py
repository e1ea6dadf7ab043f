"""Assembly: a profile's components from cached upstream sources and built-in parts, trimmed and
rewired per the catalog (no hardening yet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.catalog.decode import CATALOG_PATH
from appliance.catalog.model import Catalog, Component, ResourceRef, SourceUse
from appliance.config.profile import Profile
from appliance.errors import InvalidDocument
from appliance.render.patches import PatchError, apply_patch, move_namespaces
from appliance.sources.cache import read_documents

COMPONENT_LABEL = "appliance.dev/component"


def assemble(profile: Profile, catalog: Catalog) -> list[dict[str, Any]]:
    """Every object of the profile's components, each labelled with its component."""
    problems: list[str] = []
    objects: list[dict[str, Any]] = []
    for name in profile.components:
        component = catalog.components.get(name)
        if component is None:
            problems.append(f"components.{name}: not in the catalog")
            continue
        for obj in _component_objects(component, catalog, problems):
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            labels[COMPONENT_LABEL] = name
            objects.append(obj)
    seen: dict[ResourceRef, str] = {}
    for obj in objects:
        ref = ResourceRef.of(obj)
        owner = obj["metadata"]["labels"][COMPONENT_LABEL]
        if ref in seen:
            problems.append(f"{ref}: defined by both {seen[ref]!r} and {owner!r}")
        seen[ref] = owner
    if problems:
        raise InvalidDocument(catalog.path, problems, "fix the catalog entries named above")
    return objects


def _component_objects(
    component: Component, catalog: Catalog, problems: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for builtin in component.builtin:
        out += load_builtin(CATALOG_PATH.parent / builtin)
    for index, use in enumerate(component.sources):
        where = f"components.{component.name}.sources[{index}]"
        out += _use_source(use, catalog, where, problems)
    return out


def load_builtin(path: Path) -> list[dict[str, Any]]:
    try:
        docs = [d for d in safe_yaml.load_all(path.read_text(encoding="utf-8"), str(path)) if d]
    except yaml.YAMLError as exc:
        raise InvalidDocument(str(path), [f"not valid YAML: {exc}".replace("\n", " ")]) from exc
    return docs


def _use_source(
    use: SourceUse, catalog: Catalog, where: str, problems: list[str]
) -> list[dict[str, Any]]:
    objects = [move_namespaces(o, use.namespaces) for o in read_documents(catalog.sources[use.source])]
    refs = {ResourceRef.of(o) for o in objects}
    for kind, listed in (("keep", use.keep), ("drop", use.drop)):
        for ref in listed:
            if ref not in refs:
                problems.append(f"{where}.{kind}: {ref} is not in source {use.source!r}")
    if use.keep:
        keep = set(use.keep)
        objects = [o for o in objects if ResourceRef.of(o) in keep]
    drop = set(use.drop)
    objects = [o for o in objects if ResourceRef.of(o) not in drop]
    by_ref = {ResourceRef.of(o): i for i, o in enumerate(objects)}
    for index, patch in enumerate(use.patches):
        position = by_ref.get(patch.target)
        if position is None:
            problems.append(f"{where}.patches[{index}]: target {patch.target} not in the trimmed source")
            continue
        try:
            objects[position] = apply_patch(objects[position], patch)
        except PatchError as exc:
            problems.append(f"{where}.patches[{index}] ({patch.op} {patch.target}): {exc}")
    return objects
