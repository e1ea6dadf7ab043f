"""What every rule module shares: the review context and the one way to build a finding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from appliance.review.graph import Bundle, Obj
from appliance.review.model import Finding, Location, Path, Rule, Severity
from appliance.review.pss import Version


@dataclass
class Context:
    """The bundle under review and the options rules depend on."""

    bundle: Bundle
    version: Version

    def finding(self, o: Obj, rule: Rule, path: Path, message: str, *,
                container: str | None = None, severity: Severity | None = None,
                evidence: Iterable[str] = ()) -> Finding:
        line = o.doc.line_of(path)
        location = Location(o.doc.source, o.doc.index, line) if line else None
        return Finding(rule.id, severity or rule.severity, o.ref, container, path, message,
                       rule.help, tuple(evidence), location)


class RuleFamily(Protocol):
    """A rules module: its catalog entries and the check producing their findings."""

    RULES: tuple[Rule, ...]

    def check(self, ctx: Context) -> Iterable[Finding]: ...
