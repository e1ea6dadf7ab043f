"""What a kube-apiserver does to the fields of an applied object, for FakeCluster.

- Custom resources (k8s.io/apiextensions-apiserver): structural pruning of every field the CRD
  version's openAPIV3Schema does not declare (kept under `x-kubernetes-preserve-unknown-fields`;
  apiVersion, kind and metadata kept at the root and in `x-kubernetes-embedded-resource` objects,
  metadata reduced to ObjectMeta's fields); nulls dropped where the schema is not `nullable`; then
  validation against the schema with OpenAPI v3.0's (JSON Schema draft 4) semantics plus
  `x-kubernetes-int-or-string`, `nullable` and the embedded resources' required apiVersion and
  kind, refused in the API server's words (kube-openapi's messages, turned into field errors as
  apiextensions-apiserver's validation.go does, in apimachinery's wording of Kubernetes 1.32+;
  errors sorted by field, where the server's order follows Go's map order).
- Built-in kinds: fields the strict OpenAPI schema of the cluster's Kubernetes version (from
  kubernetes-validate, as appliance.render.validate loads it) does not know, which a server-side
  apply with the default fieldValidation=Warn drops with a warning.

Each dropped field comes back as the path the API server's Warning header names
(`unknown field "spec.template.spec.containers[0].foo"`). Not modelled: defaulting, `format`
checks, CEL rules (`x-kubernetes-validations`), validation ratcheting, and every built-in
validation beyond unknown fields.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from appliance.k8s.data import field_path
from appliance.render.validate import builtin_schema, definitions

Obj = dict[str, Any]
Path = tuple[str | int, ...]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
META_FIELDS = ("apiVersion", "kind", "metadata")
PRESERVE = "x-kubernetes-preserve-unknown-fields"
EMBEDDED = "x-kubernetes-embedded-resource"
INT_OR_STRING = "x-kubernetes-int-or-string"


def unknown_field(path: Path) -> str:
    """The API server's warning for a field it dropped."""
    return f"unknown field {json.dumps(field_path(path))}"


def schema_version(server_version: str) -> str:
    """kubernetes-validate's version ("1.34") of a server's gitVersion ("v1.34.11")."""
    found = re.match(r"v?(\d+)\.(\d+)", server_version)
    if not found:
        raise ValueError(f"not a Kubernetes version: {server_version!r}")
    return f"{found.group(1)}.{found.group(2)}"


# --- built-in kinds: the strict schemas -------------------------------------------------------------


def _resolve(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        node = defs[str(node["$ref"]).rsplit("/", 1)[-1]]
    return node if isinstance(node, dict) else {}


def _strict_unknown(value: Any, node: Any, defs: dict[str, Any], path: Path, out: list[Path]) -> None:
    node = _resolve(node, defs)
    if isinstance(value, dict):
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        for key, inner in value.items():
            if isinstance(properties, dict) and key in properties:
                _strict_unknown(inner, properties[key], defs, (*path, key), out)
            elif isinstance(extra, dict):
                _strict_unknown(inner, extra, defs, (*path, key), out)
            elif extra is False:
                out.append((*path, key))
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _strict_unknown(item, node["items"], defs, (*path, index), out)


def object_meta_unknown(metadata: Any, version: str, path: Path = ("metadata",)) -> list[Path]:
    """Fields of `metadata` that ObjectMeta does not have."""
    defs = definitions(version)["$defs"]
    out: list[Path] = []
    _strict_unknown(metadata, defs[OBJECT_META], defs, path, out)
    return out


def builtin_unknown(obj: Obj, version: str) -> list[Path]:
    """Fields of a built-in object its kind's strict schema does not know, sorted by path (none
    when the version has no schema for the kind)."""
    schema = builtin_schema(version, str(obj.get("kind") or ""), str(obj.get("apiVersion") or ""))
    out: list[Path] = []
    if schema is not None:
        _strict_unknown(obj, schema, definitions(version)["$defs"], (), out)
    return sorted(out, key=field_path)


def drop(obj: Obj, paths: list[Path]) -> None:
    """Remove each field (always a map key: unknown fields are never list items)."""
    for path in paths:
        node: Any = obj
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]


# --- custom resources: structural pruning -----------------------------------------------------------


def _properties(node: dict[str, Any]) -> dict[str, Any]:
    found = node.get("properties")
    return found if isinstance(found, dict) else {}


def _items(node: dict[str, Any] | None) -> dict[str, Any] | None:
    items = node.get("items") if node is not None else None
    return items if isinstance(items, dict) else None


def _additional(node: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """(any key allowed, the schema of such keys): `additionalProperties: true` allows keys whose
    content, without a schema, is pruned."""
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return True, extra
    return extra is True, None


class _Pruner:
    """apiextensions-apiserver's pruning algorithm (pruning/algorithm.go) over a plain object,
    recording the dropped paths."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.pruned: list[Path] = []

    def _meta(self, value: dict[str, Any], path: Path) -> None:
        metadata = value.get("metadata")
        if isinstance(metadata, dict):
            unknown = object_meta_unknown(metadata, self.version, (*path, "metadata"))
            drop(value, [p[len(path):] for p in unknown])
            self.pruned += unknown

    @staticmethod
    def _nulls(value: dict[str, Any], properties: dict[str, Any]) -> None:
        # A null for a field that is not nullable (and has no default) is dropped, silently.
        for key in [k for k, v in value.items() if v is None and k in properties]:
            schema = properties[key]
            if isinstance(schema, dict) and not schema.get("nullable") and "default" not in schema:
                del value[key]

    def prune(self, value: Any, node: dict[str, Any] | None, path: Path, preserve: bool = False) -> None:
        """`preserve` (x-kubernetes-preserve-unknown-fields, or the content below it that no
        schema describes): unknown fields stay, declared ones are pruned by their own schema."""
        if node is not None and node.get(PRESERVE):
            preserve = True
        if node is None and preserve:
            return
        if isinstance(value, dict):
            if node is None:
                self.pruned += [(*path, key) for key in value]
                value.clear()
                return
            embedded = bool(node.get(EMBEDDED)) or not path  # the root is a resource too
            properties = _properties(node)
            self._nulls(value, properties)
            allows, extra = _additional(node)
            for key in list(value):
                if embedded and key in META_FIELDS:
                    continue
                if key in properties:
                    self.prune(value[key], properties[key], (*path, key))
                elif allows:
                    self.prune(value[key], extra, (*path, key))
                elif not preserve:
                    self.pruned.append((*path, key))
                    del value[key]
            if embedded:
                self._meta(value, path)
        elif isinstance(value, list):
            # Below a preserving array the items' own schema does not prune (skipPrune).
            for index, item in enumerate(value):
                self.prune(item, _items(node), (*path, index), preserve)


# --- custom resources: validation ----------------------------------------------------------------------


def _is(value: Any, wanted: str) -> bool:
    if wanted == "integer":  # kube-openapi takes a whole float for an integer
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())
    if wanted == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    kinds: dict[str, Any] = {"string": str, "boolean": bool, "object": dict, "array": list}
    if wanted == "null":
        return value is None
    return wanted in kinds and isinstance(value, kinds[wanted])


def _json_type(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _is(value, name) and not (name == "integer" and isinstance(value, float)):
            return name
    return "null"


def _type(validator: Any, types: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if instance is None and schema.get("nullable"):
        return
    wanted = [types] if isinstance(types, str) else list(types)
    if not any(_is(instance, t) for t in wanted):
        yield ValidationError(",".join(wanted))


def _int_or_string(validator: Any, enabled: Any, instance: Any,
                   schema: dict[str, Any]) -> Iterator[ValidationError]:
    if enabled and not (_is(instance, "integer") or _is(instance, "string")):
        yield ValidationError("integer,string")


def _embedded(validator: Any, enabled: Any, instance: Any,
              schema: dict[str, Any]) -> Iterator[ValidationError]:
    if enabled and isinstance(instance, dict):
        for field in ("apiVersion", "kind"):
            if field not in instance:
                yield ValidationError(field)


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {
    "type": _type, INT_OR_STRING: _int_or_string, EMBEDDED: _embedded})


def _go(value: Any) -> str:
    """A bad value as field.Error prints it (%q for strings, %v for numbers and booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return _number(value)
    if value is None:
        return '"null"'
    return json.dumps(value, sort_keys=True)


def _number(value: Any) -> str:
    """%v of a Go float64 or int64 (a whole float prints without its fraction)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _field_errors(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) of one schema violation, in apiextensions-apiserver's words."""
    path = field_path(tuple(error.absolute_path))
    keyword, bound, value = error.validator, error.validator_value, error.instance
    if keyword == "required":
        missing = [p for p in bound if isinstance(value, dict) and p not in value]
        return [(f"{path}.{p}" if path else p, "Required value") for p in missing]
    if keyword == EMBEDDED:
        field = f"{path}.{error.message}" if path else error.message
        return [(field, "Required value")]
    if keyword in ("type", INT_OR_STRING):
        found = _json_type(value)
        text = f'{path} in body must be of type {error.message}: "{found}"'
        return [(path, f'Invalid value: "{found}": {text}')]
    if keyword in ("anyOf", "oneOf", "not"):
        return _composite(error, path)
    if keyword == "enum":
        allowed = ", ".join(json.dumps(v if isinstance(v, str) else json.dumps(v)) for v in bound)
        return [(path, f"Unsupported value: {_go(value)}: supported values: {allowed}")]
    if keyword == "maxLength":
        return [(path, f"Too long: may not be more than {bound} byte{'' if bound == 1 else 's'}")]
    if keyword == "maxItems":
        return [(path, f"Too many: {len(value)}: must have at most {bound} items")]
    if keyword == "maxProperties":
        return [(path, f"Too many: {len(value)}: must have at most {bound} items")]
    detail = {
        "pattern": f"should match '{bound}'",
        "minLength": f"should be at least {bound} chars long",
        "minItems": f"should have at least {bound} items",
        "minProperties": f"should have at least {bound} properties",
        "multipleOf": f"should be a multiple of {_number(bound)}",
        "uniqueItems": "shouldn't contain duplicates",
        "minimum": f"should be greater than {'' if error.schema.get('exclusiveMinimum') else 'or equal to '}"
                   f"{_number(bound)}",
        "maximum": f"should be less than {'' if error.schema.get('exclusiveMaximum') else 'or equal to '}"
                   f"{_number(bound)}",
    }.get(str(keyword))
    shown: Any = len(value) if keyword in ("minItems", "minProperties") else value
    if keyword == "uniqueItems":
        shown = ""
    text = f"{path} in body {detail}" if detail else error.message
    return [(path, f"Invalid value: {_go(shown)}: {text}")]


def _composite(error: ValidationError, path: str) -> list[tuple[str, str]]:
    """kube-openapi's composite errors carry no field (`<nil>`), then the errors of the branch
    that came closest."""
    if error.validator == "not":
        return [("<nil>", f'Invalid value: "": "{path}" must not validate the schema (not)')]
    branches: dict[int, list[ValidationError]] = {}
    for inner in error.context or []:
        branches.setdefault(int(inner.relative_schema_path[0]), []).append(inner)
    if error.validator == "anyOf":
        text = f'"{path}" must validate at least one schema (anyOf)'
    else:
        valid = len(error.validator_value) - len(branches)
        found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
        text = f'"{path}" must validate one and only one schema (oneOf). {found}'
    out = [("<nil>", f'Invalid value: "": {text}')]
    if branches:
        closest = min(branches.values(), key=len)  # the first of the fewest errors
        out += [pair for inner in closest for pair in _field_errors(inner)]
    return out


class CustomSchema:
    """One served version's openAPIV3Schema of a CRD: prune, then validate, as the API server does."""

    def __init__(self, schema: dict[str, Any], version: str) -> None:
        self.schema = schema
        self.version = version  # the cluster's Kubernetes version, for ObjectMeta
        self._validator = _Validator(schema)

    def prune(self, obj: Obj) -> list[Path]:
        """Drop what the schema does not declare from `obj` (in place); the dropped paths, sorted
        as the API server sorts them."""
        pruner = _Pruner(self.version)
        pruner.prune(obj, self.schema, ())
        return sorted(pruner.pruned, key=field_path)

    def errors(self, obj: Obj) -> list[str]:
        """Every violation as a field error (`spec.replicas: Invalid value: ...`), deduplicated and
        sorted by field."""
        # kube-openapi accepts a null wherever the schema is nullable, whatever else it says.
        found = {f"{field}: {text}" for error in self._validator.iter_errors(obj)
                 if not (error.instance is None and error.schema.get("nullable"))
                 for field, text in _field_errors(error)}
        return sorted(found)


def invalid_message(kind: str, group: str, name: str, errors: list[str]) -> str:
    """apierrors.NewInvalid's message: one error as is, several as [a, b]."""
    body = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
    qualified = f"{kind}.{group}" if group else kind
    return f"{qualified} {json.dumps(name)} is invalid: {body}"
