"""SARIF 2.1.0 for code scanning: rules with help, results at a file and line, fingerprints."""

from __future__ import annotations

import json
import os
from pathlib import Path as FsPath
from typing import Any

from appliance import __version__
from appliance.review.model import Finding, Report, Rule, Severity

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note"}
# GitHub code scanning reads this number to show critical/high/medium/low.
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                      Severity.LOW: "3.0"}


def artifact_uri(source: str) -> str:
    if source == "<stdin>":
        return "stdin"
    if ":" in source and not os.path.exists(source):
        return source  # a label such as profile:standard is already a URI
    path = FsPath(source)
    try:
        return path.resolve().relative_to(FsPath.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.replace("-", ".").split(".")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. Fix: {rule.help}."},
        "help": {"text": f"Fix: {rule.help}.", "markdown": f"**Fix:** {rule.help}."},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["security", rule.family],
                       "security-severity": _SECURITY_SEVERITY[rule.severity]},
    }


def _result(finding: Finding, index: int) -> dict[str, Any]:
    location: dict[str, Any] = {"logicalLocations": [{
        "fullyQualifiedName": str(finding.resource) + (f"/{finding.container}"
                                                        if finding.container else ""),
        "kind": "resource"}]}
    if finding.location is not None:
        physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(finding.location.source)}}
        if finding.location.line > 0:
            physical["region"] = {"startLine": finding.location.line}
        location["physicalLocation"] = physical
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{finding.message} (fix: {finding.fix})"},
        "locations": [location],
        "partialFingerprints": {"applianceReview/v1": finding.fingerprint},
        "properties": {"severity": finding.severity.value, "path": finding.path_text,
                       "container": finding.container, "evidence": list(finding.evidence),
                       "security-severity": _SECURITY_SEVERITY[finding.severity]},
    }
    if finding.suppression is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": finding.suppression.reason}]
    return result


def render(report: Report) -> str:
    from appliance.review.rules import CATALOG

    rules = sorted(CATALOG.values(), key=lambda r: r.id)
    index = {rule.id: i for i, rule in enumerate(rules)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "appliance-review", "version": __version__,
                                "semanticVersion": __version__,
                                "rules": [_rule(r) for r in rules]}},
            "results": [_result(f, index[f.rule]) for f in report.findings],
            "properties": {"kubernetesVersion": report.kubernetes_version,
                           "summary": report.summary(),
                           "inventory": report.inventory.as_dict()},
        }],
    }
    return json.dumps(log, indent=2) + "\n"
