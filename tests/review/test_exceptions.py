"""Exceptions: scoped to rule and resource, a reason required, expiry honoured, all problems shown."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.errors import InvalidDocument
from appliance.review import Options, known_rules
from appliance.review import exceptions as exc
from appliance.review.sources import coerce_rendered

POD = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers: [{name: web, image: "r/web:latest"}]
"""


def records(text: str) -> list[exc.ExceptionRecord]:
    import yaml

    return exc.parse(yaml.safe_load(text), "exceptions.yaml", known_rules())


def test_matching_exception_suppresses_with_its_reason(review_yaml) -> None:
    rules = records("""
exceptions:
- rule: images.mutable-tag
  resource: {kind: Pod, namespace: apps, name: web}
  container: web
  reason: demo image, replaced by the release pipeline
  expires: 2027-06-30
""")
    report = review_yaml(POD, Options(exceptions=rules, today=dt.date(2027, 6, 30)))
    [finding] = [f for f in report.findings if f.rule == "images.mutable-tag"]
    assert finding.suppressed
    assert finding.suppression is not None
    assert finding.suppression.reason == "demo image, replaced by the release pipeline"
    assert finding.suppression.expires == "2027-06-30"
    assert report.notes == []


def test_expired_exception_no_longer_suppresses(review_yaml) -> None:
    rules = records("""
- rule: images.mutable-tag
  resource: Pod/apps/web
  reason: temporary
  expires: 2027-06-30
""")
    report = review_yaml(POD, Options(exceptions=rules, today=dt.date(2027, 7, 1)))
    [finding] = [f for f in report.findings if f.rule == "images.mutable-tag"]
    assert not finding.suppressed
    assert report.notes == ["exception expired on 2027-06-30: images.mutable-tag on Pod/apps/web "
                            "(exceptions.yaml exceptions[0]) no longer suppresses"]


def test_patterns_and_unused_exceptions(review_yaml) -> None:
    rules = records("""
- {rule: "pss.restricted.*", resource: "Pod/apps/*", reason: legacy workload}
- {rule: images.no-digest, resource: Pod/other/web, reason: elsewhere}
""")
    report = review_yaml(POD, Options(exceptions=rules))
    restricted = [f for f in report.findings if f.rule.startswith("pss.restricted.")]
    assert restricted and all(f.suppressed for f in restricted)
    assert report.notes == ["exception matched no finding: images.no-digest on Pod/other/web "
                            "(exceptions.yaml exceptions[1])"]


def test_every_problem_in_an_exceptions_file_is_reported() -> None:
    with pytest.raises(InvalidDocument) as info:
        records("""
exceptions:
- rule: images.mutable-tagg
  resource: {kind: Pod, name: web, nmespace: apps}
- rule: images.mutable-tag
  resource: Pod
  reason: " "
  expires: next week
  color: red
""")
    assert info.value.problems == [
        "exceptions[0].rule: unknown rule 'images.mutable-tagg'",
        "exceptions[0].resource.nmespace: unknown field",
        "exceptions[0].reason: required: say why this finding is accepted",
        "exceptions[1].color: unknown field",
        "exceptions[1].resource: expected Kind/namespace/name or Kind/name",
        "exceptions[1].reason: required: say why this finding is accepted",
        "exceptions[1].expires: expected a date YYYY-MM-DD, got 'next week'",
    ]


def test_catalog_exceptions_flow_in_through_the_renderer_seam() -> None:
    class Rendered:
        exceptions = [{"rule": "images.mutable-tag",
                       "resource": {"kind": "Pod", "namespace": "apps", "name": "web"},
                       "reason": "upstream ships only :latest"}]

        def to_yaml(self) -> str:
            return POD

    source = coerce_rendered(Rendered(), "profile:demo", known_rules())
    assert source.sources == ["profile:demo"]
    assert [d.kind for d in source.documents] == ["Pod"]
    assert [(r.rule, r.reason, r.origin) for r in source.exceptions] == [
        ("images.mutable-tag", "upstream ships only :latest",
         "profile:demo catalog exceptions[0]")]
    from appliance.review import review

    report = review(source.documents, Options(exceptions=source.exceptions))
    [finding] = [f for f in report.findings if f.rule == "images.mutable-tag"]
    assert finding.suppressed and finding.location is not None and finding.location.line == 5
