"""Offline schema validation: built-in kinds against the pinned Kubernetes version's OpenAPI schema
(strict: unknown fields fail), custom resources against their CRD's openAPIV3Schema."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from appliance.errors import MissingPrerequisite
from appliance.k8s.refs import ResourceRef

SCHEMA_ROOT = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


def schema_dir(version: str) -> Path:
    path = SCHEMA_ROOT / f"v{version}.0-local-strict"
    if not path.is_dir():
        known = sorted(p.name.split("-")[0] for p in SCHEMA_ROOT.glob("v*-local-strict"))
        raise MissingPrerequisite(
            f"no Kubernetes {version} schema in kubernetes-validate",
            f"it has {', '.join(known)}",
            "upgrade kubernetes-validate or pin a listed kubernetesVersion in profiles/catalog.yaml",
        )
    return path


@lru_cache(maxsize=4)
def definitions(version: str) -> dict[str, Any]:
    """The definitions every strict schema of a Kubernetes version refers to (`$defs`; read only)."""
    loaded: dict[str, Any] = json.loads((schema_dir(version) / "_definitions.json").read_text())
    return loaded


@lru_cache(maxsize=256)
def builtin_schema(version: str, kind: str, api_version: str) -> dict[str, Any] | None:
    """The strict schema of a built-in kind (read only; its `$ref`s point into `definitions`), or
    None when the version has no such kind."""
    # kubernetes-validate's file naming: <kind>-<group without domain>-<version>.json
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = schema_dir(version) / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@lru_cache(maxsize=4)
def _registry(version: str) -> Registry:
    registry: Registry = Resource.from_contents(definitions(version)) @ Registry()
    return registry


@lru_cache(maxsize=256)
def _builtin_validator(version: str, kind: str, api_version: str) -> Any:
    schema = builtin_schema(version, kind, api_version)
    if schema is None:
        return None
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def _crd_schemas(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> validator for every served version of every CRD in the bundle."""
    found: dict[tuple[str, str], Any] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if version.get("served") and schema:
                # OpenAPI v3.0 schemas: draft 4 semantics (boolean exclusiveMinimum...).
                found[(f"{spec.get('group')}/{version.get('name')}", kind)] = (
                    jsonschema.Draft4Validator(schema)
                )
    return found


# Built-in objects already found valid, by (version, content digest): the same CRDs (megabytes
# of schema each) recur in every profile and every render of a process.
_VALID: set[tuple[str, str]] = set()


def validate(objects: list[dict[str, Any]], version: str) -> list[str]:
    """Every problem of every object (empty when all are valid)."""
    problems: list[str] = []
    crds = _crd_schemas(objects)
    for obj in objects:
        ref = ResourceRef.of(obj)
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        builtin = _builtin_validator(version, kind, api_version)
        validator = builtin or crds.get((api_version, kind))
        if validator is None:
            problems.append(f"{ref}: no schema for {api_version} {kind} in Kubernetes {version} "
                            "or in a CRD of the bundle")
            continue
        key = (version, hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest())
        if builtin is not None and key in _VALID:
            continue
        errors = sorted(validator.iter_errors(obj), key=lambda e: (str(list(e.absolute_path)), e.message))
        for error in errors:
            where = ".".join(str(p) for p in error.absolute_path) or "(object)"
            problems.append(f"{ref} {where}: {error.message[:200]}")
        if builtin is not None and not errors:
            _VALID.add(key)
    return problems
