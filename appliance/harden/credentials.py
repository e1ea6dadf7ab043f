"""Transform: default credentials out; listed Secret keys become install-time generated values."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from appliance.harden.model import Change, HardenContext, Result, containers, copy, pod_spec
from appliance.k8s.refs import ResourceRef

NAME = "credentials"
GENERATED_KEYS = "appliance.dev/generated-keys"
# Well-known upstream defaults (KFP's MinIO, MinIO's own, Katib's MySQL) and their env switches.
DEFAULT_VALUES = frozenset({"minio", "minio123", "minioadmin", "test"})
EMPTY_PASSWORD_SWITCHES = ("MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD_EMPTY")
_SECRETISH = ("PASSWORD", "SECRET", "ACCESS_KEY", "ACCESSKEY", "TOKEN", "ROOT_USER")


def generated_keys(secret: dict[str, Any]) -> dict[str, str]:
    """The Secret's key -> credential id map from its annotation."""
    text = ((secret.get("metadata") or {}).get("annotations") or {}).get(GENERATED_KEYS, "")
    pairs = [item.split("=", 1) for item in text.split(",") if "=" in item]
    return {key.strip(): value.strip() for key, value in pairs}


def _annotate(secret: dict[str, Any], keys: dict[str, str]) -> None:
    merged = {**generated_keys(secret), **keys}
    annotations = secret.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[GENERATED_KEYS] = ",".join(f"{k}={v}" for k, v in sorted(merged.items()))


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    wanted = {spec.secret: spec.keys for spec in ctx.credentials}
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    unresolved: list[str] = []
    seen: set[ResourceRef] = set()
    for obj in objects:
        ref = ResourceRef.of(obj)
        if ref not in wanted:
            out.append(obj)
            continue
        seen.add(ref)
        new = copy(obj)
        for key in sorted(wanted[ref]):
            for field in ("data", "stringData"):
                values = new.get(field) or {}
                if key in values:
                    del values[key]
                    # Never the value itself: change records end up in reports and logs.
                    changes.append(Change(NAME, ref, f"{field}.{key}", "literal value removed"))
            changes.append(Change(NAME, ref, f"metadata.annotations[{GENERATED_KEYS}]",
                                  f"{key} generated at install time as {wanted[ref][key]}"))
        _annotate(new, wanted[ref])
        for field in ("data", "stringData"):
            if field in new and not new[field]:
                del new[field]
        out.append(new)
    for ref in sorted(set(wanted) - seen):
        unresolved.append(f"{ref}: credential Secret named in the catalog is not in the bundle")
    unresolved += find_default_credentials(out)
    return Result(out, changes, unresolved)


def find_default_credentials(objects: list[dict[str, Any]]) -> list[str]:
    """Every well-known default credential or empty password left in Secrets or env."""
    found: list[str] = []
    for obj in objects:
        ref = ResourceRef.of(obj)
        if obj.get("kind") == "Secret":
            generated = set(generated_keys(obj))
            for key, value in _secret_values(obj):
                if key in generated:
                    continue
                if value in DEFAULT_VALUES:
                    found.append(f"{ref} key {key}: well-known default credential")
                elif value == "" and "pass" in key.lower():
                    found.append(f"{ref} key {key}: empty password")
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container, path in containers(*spec):
            for index, env in enumerate(container.get("env") or []):
                name = str(env.get("name", ""))
                value = env.get("value")
                if name in EMPTY_PASSWORD_SWITCHES and str(value).lower() in ("true", "yes", "1"):
                    found.append(f"{ref} {path}.env[{index}]: {name} allows an empty password")
                elif value is not None and any(s in name.upper() for s in _SECRETISH):
                    if value in DEFAULT_VALUES or value == "":
                        found.append(f"{ref} {path}.env[{index}]: {name} is a default credential")
    return found


def _secret_values(secret: dict[str, Any]) -> list[tuple[str, str]]:
    values = [(str(k), str(v)) for k, v in (secret.get("stringData") or {}).items()]
    for key, encoded in (secret.get("data") or {}).items():
        try:
            values.append((str(key), base64.b64decode(str(encoded), validate=True).decode("utf-8")))
        except (binascii.Error, UnicodeDecodeError):
            continue  # binary data is not a typed-in default credential
    return values
