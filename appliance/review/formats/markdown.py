"""The Markdown report (for PR comments and job summaries)."""

from __future__ import annotations

from appliance.review.formats.text import location
from appliance.review.model import Report


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report) -> str:
    counts = report.summary()
    lines = ["## Security review", "",
             f"Sources: {', '.join(f'`{s}`' for s in report.sources)}; Pod Security at "
             f"Kubernetes {report.kubernetes_version}.", "",
             "| critical | high | medium | low | suppressed |", "|---|---|---|---|---|",
             f"| {counts['critical']} | {counts['high']} | {counts['medium']} | {counts['low']} "
             f"| {report.suppressed_count()} |", ""]
    active = [f for f in report.findings if not f.suppressed]
    suppressed = [f for f in report.findings if f.suppressed]
    lines += ["### Findings", ""]
    if active:
        lines += ["| Severity | Rule | Resource | Container | Location | Message |",
                  "|---|---|---|---|---|---|"]
        for f in active:
            new = " (new)" if f.new else ""
            lines.append(f"| {f.severity.value}{new} | `{f.rule}` | `{f.resource}` | "
                         f"{cell(f.container or '-')} | {cell(location(f))} | {cell(f.message)} |")
    else:
        lines.append("No unsuppressed findings.")
    if suppressed:
        lines += ["", "### Suppressed", "", "| Severity | Rule | Resource | Reason | Expires |",
                  "|---|---|---|---|---|"]
        for f in suppressed:
            reason = f.suppression.reason if f.suppression else ""
            expires = (f.suppression.expires if f.suppression else None) or "-"
            lines.append(f"| {f.severity.value} | `{f.rule}` | `{f.resource}` | {cell(reason)} "
                         f"| {expires} |")
    inv = report.inventory
    lines += ["", "### Inventory", "",
              f"- objects: {inv.objects}; pods: {inv.pods}; pod templates: {inv.pod_templates}; "
              f"containers: {inv.containers}",
              f"- images: {len(inv.images)} ({len(inv.images_without_digest)} without digest)",
              f"- privileged containers: {len(inv.privileged_containers)}; may run as root: "
              f"{len(inv.root_containers)}; host access: {len(inv.host_access)}",
              f"- cluster-wide permissions: {len(inv.cluster_wide_permissions)}; exposed services: "
              f"{len(inv.exposed_services)}; CRDs: {len(inv.crds)}; webhooks: "
              f"{len(inv.webhooks)}"]
    for title, items in (("Cluster-wide permissions", inv.cluster_wide_permissions),
                         ("Exposed services", inv.exposed_services),
                         ("Privileged containers", inv.privileged_containers),
                         ("Host access", inv.host_access)):
        if items:
            lines += ["", f"<details><summary>{title} ({len(items)})</summary>", ""]
            lines += [f"- `{cell(item)}`" for item in items]
            lines += ["", "</details>"]
    if report.notes:
        lines += ["", "### Notes", ""] + [f"- {cell(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"
