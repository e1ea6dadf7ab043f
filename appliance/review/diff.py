"""Diffing two reviews: added and resolved findings (by fingerprint) and inventory deltas."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from appliance.review.formats.json import finding_dict
from appliance.review.formats.markdown import cell
from appliance.review.formats.text import location, table
from appliance.review.model import Finding, Report, Severity, sort_findings

_COUNTS = ("objects", "pods", "pod_templates", "containers")
_LISTS = ("images", "images_without_digest", "privileged_containers", "root_containers",
          "host_access", "cluster_wide_permissions", "exposed_services", "crds", "webhooks",
          "namespaces")


@dataclass
class Diff:
    """What changed from review A (before) to review B (after)."""

    before: str
    after: str
    added: list[Finding]
    resolved: list[Finding]
    unchanged: int
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    lists: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # added, removed

    def gating(self, fail_on: Severity) -> list[Finding]:
        return [f for f in self.added if not f.suppressed and f.severity.at_least(fail_on)]


def diff(before: Report, after: Report, before_label: str, after_label: str) -> Diff:
    old = {f.fingerprint: f for f in before.findings}
    new = {f.fingerprint: f for f in after.findings}
    added = sort_findings([f for key, f in new.items() if key not in old])
    resolved = sort_findings([f for key, f in old.items() if key not in new])
    result = Diff(before_label, after_label, added, resolved, len(set(old) & set(new)))
    a, b = before.inventory.as_dict(), after.inventory.as_dict()
    for name in _COUNTS:
        if a[name] != b[name]:
            result.counts[name] = (a[name], b[name])
    for name in _LISTS:
        plus = sorted(set(b[name]) - set(a[name]))
        minus = sorted(set(a[name]) - set(b[name]))
        if plus or minus:
            result.lists[name] = (plus, minus)
    return result


def render(d: Diff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(_as_dict(d), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(d)
    return _text(d)


def _as_dict(d: Diff) -> dict[str, Any]:
    return {
        "before": d.before, "after": d.after,
        "added": [finding_dict(f) for f in d.added],
        "resolved": [finding_dict(f) for f in d.resolved],
        "unchanged": d.unchanged,
        "inventory": {
            "counts": {k: {"before": v[0], "after": v[1], "delta": v[1] - v[0]}
                       for k, v in d.counts.items()},
            "lists": {k: {"added": v[0], "removed": v[1]} for k, v in d.lists.items()},
        },
    }


def _text(d: Diff) -> str:
    lines = [f"Review diff: {d.before} -> {d.after}",
             f"{len(d.added)} added, {len(d.resolved)} resolved, {d.unchanged} unchanged", ""]
    for title, findings in (("Added", d.added), ("Resolved", d.resolved)):
        if findings:
            lines.append(f"{title}:")
            lines += table(["SEVERITY", "RULE", "RESOURCE", "CONTAINER", "LOCATION", "MESSAGE"],
                           [[f.severity.value.upper() + (" (suppressed)" if f.suppressed else ""),
                             f.rule, str(f.resource), f.container or "-", location(f), f.message]
                            for f in findings])
            lines.append("")
    if d.counts or d.lists:
        lines.append("Inventory:")
        for name, (a, b) in d.counts.items():
            lines.append(f"  {name}: {a} -> {b} ({b - a:+d})")
        for name, (plus, minus) in d.lists.items():
            lines += [f"  {name}: + {item}" for item in plus]
            lines += [f"  {name}: - {item}" for item in minus]
    return "\n".join(lines).rstrip() + "\n"


def _markdown(d: Diff) -> str:
    lines = ["## Security review diff", "",
             f"`{d.before}` → `{d.after}`: **{len(d.added)} added**, {len(d.resolved)} resolved, "
             f"{d.unchanged} unchanged.", ""]
    for title, findings in (("Added findings", d.added), ("Resolved findings", d.resolved)):
        if not findings:
            continue
        lines += [f"### {title}", "", "| Severity | Rule | Resource | Container | Message |",
                  "|---|---|---|---|---|"]
        for f in findings:
            status = " (suppressed)" if f.suppressed else ""
            lines.append(f"| {f.severity.value}{status} | `{f.rule}` | `{f.resource}` | "
                         f"{cell(f.container or '-')} | {cell(f.message)} |")
        lines.append("")
    if d.counts or d.lists:
        lines += ["### Inventory", "", "| | before | after | delta |", "|---|---|---|---|"]
        for name, (a, b) in d.counts.items():
            lines.append(f"| {name} | {a} | {b} | {b - a:+d} |")
        for name, (plus, minus) in d.lists.items():
            lines.append("")
            lines += [f"- {name}: added `{cell(item)}`" for item in plus]
            lines += [f"- {name}: removed `{cell(item)}`" for item in minus]
    return "\n".join(lines).rstrip() + "\n"
