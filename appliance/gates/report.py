"""Human reports of the gates: a decision rule by rule, and a model's registry record."""

from __future__ import annotations

import json
from typing import Any

from appliance.gates.decision import Decision
from appliance.gates.registry import Record


def decision_report(result: Decision) -> str:
    """One ✓/✗ line per rule, then PROMOTE or REJECT."""
    lines = []
    for rule in result.rules:
        mark = "✓" if rule.passed else "✗"
        lines.append(f"{mark} {rule.rule:<11} {rule.metric:<16} {rule.detail}")
    lines.append(f"{'PROMOTE' if result.promote else 'REJECT'} (policy {result.policy})")
    return "\n".join(lines)


def registry_report(model: str, head: Record | None, history: list[Record],
                    decided: list[dict[str, Any]]) -> str:
    """The champion, the history of pointer moves and a count of the gate's decisions."""
    if head is None:
        lines = [f"model {model}: no champion"]
    else:
        lines = [f"model {model}: champion {head.entry.version} (revision {head.revision})",
                 f"  uri      {head.entry.model_uri}",
                 f"  metrics  {json.dumps(head.entry.metrics, sort_keys=True)}"]
    lines.append("history:")
    for record in history:
        lines.append(f"  {record.revision:>4}  {record.action:<8} {record.entry.version:<20} "
                     f"{record.at}")
    promoted = sum(1 for d in decided if d.get("promote"))
    lines.append(f"decisions: {len(decided)} ({promoted} promote, {len(decided) - promoted} reject)")
    return "\n".join(lines)

