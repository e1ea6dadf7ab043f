"""The review itself: documents in, sorted findings (exceptions and baseline applied) out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from appliance.review import exceptions as exc_mod
from appliance.review import inventory, pss, shapes
from appliance.review.exceptions import ExceptionRecord
from appliance.review.graph import Bundle
from appliance.review.loader import Document, gc_paused
from appliance.review.model import Finding, Report, sort_findings
from appliance.review.rules import CATALOG, run_all
from appliance.review.rules.base import Context


@dataclass
class Options:
    """What shapes a review besides the manifests."""

    kubernetes_version: pss.Version = pss.LATEST
    exceptions: list[ExceptionRecord] = field(default_factory=list)
    today: dt.date | None = None  # injected in tests; the real date otherwise
    baseline: set[str] | None = None  # fingerprints of an earlier report's findings


def review(documents: list[Document], options: Options | None = None,
           sources: list[str] | None = None) -> Report:
    """Review a bundle: every rule over every object, then exceptions and the baseline."""
    with gc_paused():  # as in loading: many small objects kept, none of them cyclic garbage
        return _review(documents, options or Options(), sources)


def _review(documents: list[Document], options: Options, sources: list[str] | None) -> Report:
    shapes.check(documents)  # a wrongly shaped field is bad input, never a crash or a pass
    bundle = Bundle(documents)
    ctx = Context(bundle, options.kubernetes_version)
    findings = _unique(list(run_all(ctx)))
    today = options.today or dt.date.today()
    findings, notes = exc_mod.apply(findings, options.exceptions, today)
    if options.baseline is not None:
        known = options.baseline
        findings = [f.with_(new=f.fingerprint not in known) for f in findings]
    return Report(sort_findings(findings), inventory.build(bundle),
                  sources if sources is not None else sorted({d.source for d in documents}),
                  pss.format_version(options.kubernetes_version), notes)


def _unique(findings: list[Finding]) -> list[Finding]:
    # Two templates of one object can produce the same finding; the fingerprint is its identity.
    seen: set[str] = set()
    out = []
    for finding in findings:
        key = finding.fingerprint
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def known_rules() -> set[str]:
    return set(CATALOG)
