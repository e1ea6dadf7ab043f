"""Diffs between two reviews and baselines that fail only on new findings."""

from __future__ import annotations

import json

from appliance.review import Options
from appliance.review import diff as diff_mod
from appliance.review.formats import render

BEFORE = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers: [{name: web, image: "r/web:1"}]
"""
AFTER = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  hostNetwork: true
  containers: [{name: web, image: "r/web:1@sha256:aa"}, {name: side, image: "r/side:2"}]
"""


def test_added_resolved_and_inventory_deltas(review_yaml) -> None:
    before, after = review_yaml(BEFORE), review_yaml(AFTER)
    result = diff_mod.diff(before, after, "a.yaml", "b.yaml")
    assert [(f.rule, f.container) for f in result.added if f.severity.value != "low"] == [
        ("pss.baseline.host-namespaces", None),
        ("pss.restricted.allow-privilege-escalation", "side"),
        ("pss.restricted.run-as-non-root", "side"),
    ]
    assert [(f.rule, f.container) for f in result.resolved] == [("images.no-digest", "web")]
    assert result.counts == {"containers": (1, 2)}
    assert result.lists["images"] == (["r/side:2", "r/web:1@sha256:aa"], ["r/web:1"])
    markdown = diff_mod.render(result, "markdown")
    assert "`a.yaml` → `b.yaml`: **" in markdown
    assert "| high | `pss.baseline.host-namespaces` | `Pod/apps/web` | - | pod sets " \
           "hostNetwork=true |" in markdown
    assert "| containers | 1 | 2 | +1 |" in markdown
    data = json.loads(diff_mod.render(result, "json"))
    assert data["inventory"]["counts"]["containers"] == {"before": 1, "after": 2, "delta": 1}
    assert [f.rule for f in result.gating(diff_mod.Severity.HIGH)] == \
        ["pss.baseline.host-namespaces"]


def test_baseline_marks_only_new_findings_as_gating(review_yaml) -> None:
    before = review_yaml(BEFORE)
    known = {f.fingerprint for f in before.findings}
    after = review_yaml(BEFORE.replace("spec:\n", "spec:\n  hostPID: true\n"),
                        Options(baseline=known))
    new = [f.rule for f in after.findings if f.new]
    assert new == ["pss.baseline.host-namespaces"]
    assert [f.rule for f in after.gating(diff_mod.Severity.LOW)] == new
    assert "HIGH NEW" in render(after, "text")
