"""Pipeline arguments: `--param k=v` parsing, and typing against the pipeline's declared inputs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from appliance.errors import InvalidDocument, MissingPrerequisite
from appliance.pipelines.loader import Pipeline

TRUE = ("true", "yes", "1")
FALSE = ("false", "no", "0")


def parse_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """`k=v` strings (values may contain '='); every malformed or repeated one is reported."""
    values: dict[str, str] = {}
    problems = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(f"--param {pair!r}: expected NAME=VALUE")
        elif name in values:
            problems.append(f"--param {name}: given more than once")
        else:
            values[name] = value
    if problems:
        raise InvalidDocument("arguments", problems, "pass each parameter once as --param NAME=VALUE")
    return values


def check(pipeline: Pipeline, given: Mapping[str, Any], *, text: bool = False) -> dict[str, Any]:
    """Typed arguments for the pipeline. With `text`, values are strings from the command line
    and are converted to the declared type; otherwise they must already have it."""
    if pipeline.input_artifacts:
        raise MissingPrerequisite(
            f"pipeline {pipeline.name!r} takes input artifacts "
            f"({', '.join(pipeline.input_artifacts)})",
            "the local runner (kfp.local) cannot pass artifacts into a pipeline",
            "produce the artifact inside a pipeline (a task, or dsl.importer) and pass it on",
        )
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for name in given:
        if name not in pipeline.parameters:
            known = ", ".join(sorted(pipeline.parameters)) or "none"
            problems.append(f"{name}: unknown parameter (parameters: {known})")
    for name, parameter in sorted(pipeline.parameters.items()):
        if name not in given:
            if parameter.required:
                problems.append(f"{name}: required {parameter.type} parameter is missing")
            continue
        value, problem = (_convert if text else _validate)(parameter.type, given[name])
        if problem:
            problems.append(f"{name}: {problem}")
        else:
            typed[name] = value
    if problems:
        raise InvalidDocument(f"arguments of pipeline {pipeline.name!r}", problems,
                              f"see the parameters declared in {pipeline.source}")
    return typed


def _convert(kind: str, raw: Any) -> tuple[Any, str]:
    text = str(raw)
    if kind == "string":
        return text, ""
    if kind == "integer":
        try:
            return int(text.strip()), ""
        except ValueError:
            return None, f"expected an integer, got {text!r}"
    if kind == "double":
        try:
            return float(text.strip()), ""
        except ValueError:
            return None, f"expected a number, got {text!r}"
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in TRUE or lowered in FALSE:
            return lowered in TRUE, ""
        return None, f"expected true or false, got {text!r}"
    if kind in ("list", "struct"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None, f"expected a JSON {kind}, got {text!r}"
        return _validate(kind, value)
    return None, f"parameters of type {kind} cannot be passed"


def _validate(kind: str, value: Any) -> tuple[Any, str]:
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "double": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "list": isinstance(value, list),
        "struct": isinstance(value, dict),
    }.get(kind)
    if ok is None:
        return None, f"parameters of type {kind} cannot be passed"
    if not ok:
        return None, f"expected {_article(kind)} {kind}, got {type(value).__name__} {value!r}"
    return (float(value) if kind == "double" else value), ""


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


