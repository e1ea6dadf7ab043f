"""Exceptions: reviewed, justified suppressions scoped to a rule and a resource, with expiry."""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.errors import BadInput, InvalidDocument
from appliance.review.model import Finding, Suppression

_FIELDS = {"rule", "resource", "container", "reason", "expires"}
_RESOURCE_FIELDS = {"kind", "namespace", "name"}
FILE_FIX = "each exception needs rule, resource {kind, namespace, name} and a reason; see " \
           "docs/review.md"


@dataclass(frozen=True)
class ExceptionRecord:
    """Suppress findings of `rule` on one resource (fields may be shell-style patterns)."""

    rule: str
    kind: str
    namespace: str
    name: str
    reason: str
    origin: str
    container: str | None = None
    expires: dt.date | None = None

    def matches(self, finding: Finding) -> bool:
        r = finding.resource
        return (fnmatch.fnmatchcase(finding.rule, self.rule)
                and fnmatch.fnmatchcase(r.kind, self.kind)
                and fnmatch.fnmatchcase(r.namespace, self.namespace)
                and fnmatch.fnmatchcase(r.name, self.name)
                and (self.container is None
                     or fnmatch.fnmatchcase(finding.container or "", self.container)))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def describe(self) -> str:
        where = "/".join(p for p in (self.kind, self.namespace, self.name) if p)
        return f"{self.rule} on {where} ({self.origin})"


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps an impossible date (2099-13-45) as its text, so the field check
    below reports it with its path instead of a ValueError from the timestamp constructor."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_file(path: str, known_rules: set[str]) -> list[ExceptionRecord]:
    file = FsPath(path)
    try:
        data = safe_yaml.load(file.read_text(encoding="utf-8"), path, _Loader)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such exceptions file", fix="check --exceptions") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InvalidDocument(path, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"],
                              FILE_FIX) from None
    return parse(data, path, known_rules)


def parse(data: Any, source: str, known_rules: set[str]) -> list[ExceptionRecord]:
    """Decode exception records strictly; every problem is reported at once."""
    problems: list[str] = []
    items = data
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"apiVersion", "kind", "exceptions"}, key=str)
        problems += [f"{k}: unknown field" for k in unknown]
        items = data.get("exceptions")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InvalidDocument(source, ["exceptions: expected a list"], FILE_FIX)
    records = []
    for index, item in enumerate(items):
        record = _record(item, f"exceptions[{index}]", source, known_rules, problems)
        if record is not None:
            records.append(record)
    if problems:
        raise InvalidDocument(source, problems, FILE_FIX)
    return records


def _record(item: Any, where: str, source: str, known_rules: set[str],
            problems: list[str]) -> ExceptionRecord | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    before = len(problems)
    problems += [f"{where}.{k}: unknown field" for k in sorted(set(item) - _FIELDS, key=str)]
    rule = item.get("rule")
    if not isinstance(rule, str) or not rule:
        problems.append(f"{where}.rule: required string (a rule id, e.g. pss.restricted.seccomp)")
    elif not any(c in rule for c in "*?[") and rule not in known_rules:
        problems.append(f"{where}.rule: unknown rule {rule!r}")
    kind = namespace = name = ""
    resource = item.get("resource")
    if isinstance(resource, str):
        parts = resource.split("/")
        if len(parts) == 2:
            kind, name = parts
        elif len(parts) == 3:
            kind, namespace, name = parts
        else:
            problems.append(f"{where}.resource: expected Kind/namespace/name or Kind/name")
    elif isinstance(resource, dict):
        problems += [f"{where}.resource.{k}: unknown field"
                     for k in sorted(set(resource) - _RESOURCE_FIELDS, key=str)]
        kind = str(resource.get("kind") or "")
        namespace = str(resource.get("namespace") or "")
        name = str(resource.get("name") or "")
        if not kind or not name:
            problems.append(f"{where}.resource: kind and name are required")
    else:
        problems.append(f"{where}.resource: required ({{kind, namespace, name}} or "
                        "Kind/namespace/name)")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(f"{where}.reason: required: say why this finding is accepted")
    expires = item.get("expires")
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            problems.append(f"{where}.expires: expected a date YYYY-MM-DD, got {expires!r}")
    elif isinstance(expires, dt.datetime):
        expires = expires.date()
    elif expires is not None and not isinstance(expires, dt.date):
        problems.append(f"{where}.expires: expected a date YYYY-MM-DD")
    container = item.get("container")
    if container is not None and not isinstance(container, str):
        problems.append(f"{where}.container: expected a string")
    if len(problems) > before:
        return None
    return ExceptionRecord(str(rule), kind, namespace, name, str(reason).strip(),
                           f"{source} {where}", container,
                           expires if isinstance(expires, dt.date) else None)


def apply(findings: list[Finding], records: list[ExceptionRecord],
          today: dt.date) -> tuple[list[Finding], list[str]]:
    """Mark matching findings suppressed; notes say which exceptions expired or matched nothing."""
    used: set[int] = set()
    expired_hits: set[int] = set()
    out = []
    for finding in findings:
        suppression = None
        for index, record in enumerate(records):
            if not record.matches(finding):
                continue
            if record.expired(today):
                expired_hits.add(index)
                continue
            used.add(index)
            suppression = Suppression(record.reason, record.origin,
                                      record.expires.isoformat() if record.expires else None)
            break
        out.append(finding.with_(suppression=suppression) if suppression else finding)
    notes = []
    for index, record in enumerate(records):
        if index in expired_hits and index not in used:
            notes.append(f"exception expired on {record.expires}: {record.describe()} no longer "
                         "suppresses")
        elif index not in used and index not in expired_hits:
            notes.append(f"exception matched no finding: {record.describe()}")
    return out, notes
