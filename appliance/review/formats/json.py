"""The JSON report: a contract other tools read (findings, inventory, summary), plus fingerprints."""

from __future__ import annotations

import json
from typing import Any

from appliance import __version__
from appliance.review.model import Finding, Report


def finding_dict(finding: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        # The contract's fields (issue 9): stable names and meanings.
        "rule": finding.rule,
        "severity": finding.severity.value,
        "resource": finding.resource.as_record(),
        "container": finding.container,
        "path": finding.path_text,
        "message": finding.message,
        "suppressed": finding.suppressed,
        # Additions: what baselines, diffs and people need.
        "fingerprint": finding.fingerprint,
        "fix": finding.fix,
        "evidence": list(finding.evidence),
        "location": None if finding.location is None else {
            "file": finding.location.source, "line": finding.location.line},
        "suppression": None if finding.suppression is None else {
            "reason": finding.suppression.reason, "origin": finding.suppression.origin,
            "expires": finding.suppression.expires},
    }
    if finding.new is not None:
        out["new"] = finding.new
    return out


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "findings": [finding_dict(f) for f in report.findings],
        "inventory": report.inventory.as_dict(),
        "summary": report.summary(),
        "suppressed": report.suppressed_count(),
        "tool": {"name": "appliance-review", "version": __version__},
        "kubernetes_version": report.kubernetes_version,
        "sources": list(report.sources),
        "notes": list(report.notes),
    }


def render(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=False) + "\n"


def parse_report(data: Any, source: str) -> Report:
    """Read a JSON report back (for --baseline and --diff); problems name the field."""
    from appliance.errors import InvalidDocument
    from appliance.k8s.refs import ResourceRef
    from appliance.review.model import (
        Inventory,
        Location,
        Severity,
        Suppression,
        parse_path,
    )

    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise InvalidDocument(source, ["findings: expected a JSON report with a findings list"],
                              "pass a report written by `appliance review --format json`")
    findings = []
    problems = []
    for i, item in enumerate(data["findings"]):
        try:
            resource = item["resource"]
            location = item.get("location")
            suppression = item.get("suppression")
            if item.get("suppressed") and not suppression:
                suppression = {"reason": "suppressed", "origin": source}
            findings.append(Finding(
                str(item["rule"]), Severity.parse(str(item["severity"])),
                ResourceRef(str(resource["kind"]), str(resource.get("namespace") or ""),
                            str(resource["name"])),
                item.get("container"), parse_path(str(item.get("path") or "")),
                str(item.get("message") or ""), str(item.get("fix") or ""),
                tuple(item.get("evidence") or ()),
                Location(str(location["file"]), 0, int(location["line"])) if location else None,
                Suppression(str(suppression.get("reason") or ""),
                            str(suppression.get("origin") or source),
                            suppression.get("expires")) if suppression else None))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"findings[{i}]: {exc}")
    if problems:
        raise InvalidDocument(source, problems,
                              "pass a report written by `appliance review --format json`")
    inventory = Inventory.from_dict(data.get("inventory") or {})
    return Report(findings, inventory, list(data.get("sources") or [source]),
                  str(data.get("kubernetes_version") or ""), list(data.get("notes") or []))
