"""The default text report: an aligned table of findings, suppressed ones, inventory, summary."""

from __future__ import annotations

from appliance.review.model import Finding, Report


def location(finding: Finding) -> str:
    if finding.location is None:
        return "-"
    return f"{finding.location.source}:{finding.location.line}"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def summary_line(report: Report) -> str:
    counts = report.summary()
    parts = [f"{counts[name]} {name}" for name in counts]
    return ", ".join(parts) + f"; {report.suppressed_count()} suppressed"


def render(report: Report) -> str:
    active = [f for f in report.findings if not f.suppressed]
    suppressed = [f for f in report.findings if f.suppressed]
    lines = [f"Security review of {', '.join(report.sources) or 'no sources'} "
             f"(Pod Security at Kubernetes {report.kubernetes_version})", ""]
    if active:
        rows = [[f.severity.value.upper() + (" NEW" if f.new else ""), f.rule, str(f.resource),
                 f.container or "-", location(f), f.message] for f in active]
        lines += table(["SEVERITY", "RULE", "RESOURCE", "CONTAINER", "LOCATION", "MESSAGE"], rows)
    else:
        lines.append("No unsuppressed findings.")
    if suppressed:
        lines += ["", f"Suppressed ({len(suppressed)}):"]
        rows = [[f.severity.value.upper(), f.rule, str(f.resource), f.container or "-",
                 f.suppression.reason if f.suppression else ""] for f in suppressed]
        lines += table(["SEVERITY", "RULE", "RESOURCE", "CONTAINER", "REASON"], rows)
    inv = report.inventory
    lines += [
        "",
        "Inventory:",
        f"  objects {inv.objects}, pods {inv.pods}, pod templates {inv.pod_templates}, "
        f"containers {inv.containers}",
        f"  images {len(inv.images)} ({len(inv.images_without_digest)} without digest), "
        f"privileged containers {len(inv.privileged_containers)}, may run as root "
        f"{len(inv.root_containers)}",
        f"  cluster-wide permissions {len(inv.cluster_wide_permissions)}, exposed services "
        f"{len(inv.exposed_services)}, host access {len(inv.host_access)}, CRDs {len(inv.crds)}, "
        f"webhooks {len(inv.webhooks)}",
    ]
    for note in report.notes:
        lines.append(f"note: {note}")
    lines += ["", f"Summary: {summary_line(report)}"]
    return "\n".join(lines) + "\n"
