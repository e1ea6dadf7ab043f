"""Report formats: the JSON contract, SARIF valid against the 2.1.0 schema, text and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from appliance.review import Options
from appliance.review.exceptions import ExceptionRecord
from appliance.review.formats import render
from appliance.review.formats.json import parse_report

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
SAMPLE = """apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: apps}
stringData: {secretkey: minio123}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers:
  - name: web
    image: r/web:latest
    securityContext: {privileged: true}
"""


@pytest.fixture
def report(review_yaml):
    import datetime as dt

    accepted = ExceptionRecord("images.mutable-tag", "Pod", "apps", "web", "demo image",
                               "test", None, dt.date(2030, 1, 1))
    return review_yaml(SAMPLE, Options(exceptions=[accepted], today=dt.date(2026, 1, 1)),
                       source="sample.yaml")


def test_json_contract(report) -> None:
    data = json.loads(render(report, "json"))
    assert set(data) >= {"findings", "inventory", "summary"}
    assert set(data["summary"]) == {"critical", "high", "medium", "low"}
    first = data["findings"][0]
    assert {"rule", "severity", "resource", "container", "path", "message", "suppressed"} <= \
        set(first)
    assert set(first["resource"]) == {"kind", "namespace", "name"}
    assert (first["rule"], first["severity"], first["resource"], first["path"]) == (
        "pss.baseline.privileged", "critical",
        {"kind": "Pod", "namespace": "apps", "name": "web"},
        "spec.containers[0].securityContext.privileged")
    assert data["summary"]["critical"] == 2  # privileged + minio123 (the :latest one is excepted)
    suppressed = [f for f in data["findings"] if f["suppressed"]]
    assert [(f["rule"], f["suppression"]["reason"]) for f in suppressed] == \
        [("images.mutable-tag", "demo image")]
    assert data["inventory"]["privileged_containers"] == ["Pod/apps/web:web"]


def test_json_round_trips_for_baselines_and_diffs(report) -> None:
    again = parse_report(json.loads(render(report, "json")), "r.json")
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in report.findings]
    assert [f.suppressed for f in again.findings] == [f.suppressed for f in report.findings]


def test_sarif_is_valid_and_points_at_file_and_line(report) -> None:
    log = json.loads(render(report, "sarif"))
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "appliance-review"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["secrets.default-credentials"]["help"]["text"].startswith("Fix: generate")
    by_rule = {r["ruleId"]: r for r in run["results"]}
    secret = by_rule["secrets.default-credentials"]
    physical = secret["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "sample.yaml"
    assert physical["region"]["startLine"] == 4
    assert by_rule["pss.baseline.privileged"]["locations"][0]["physicalLocation"]["region"] == \
        {"startLine": 13}
    assert run["tool"]["driver"]["rules"][secret["ruleIndex"]]["id"] == secret["ruleId"]
    assert by_rule["images.mutable-tag"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "demo image"}]
    assert len(secret["partialFingerprints"]["applianceReview/v1"]) == 32


def test_sarif_schema_rejects_a_broken_log(report) -> None:
    log = json.loads(render(report, "sarif"))
    del log["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_text_and_markdown(report) -> None:
    text = render(report, "text")
    assert "CRITICAL  pss.baseline.privileged" in text
    assert "sample.yaml:13" in text
    assert text.rstrip().endswith("Summary: 2 critical, 0 high, 2 medium, 4 low; 1 suppressed")
    markdown = render(report, "markdown")
    assert "| 2 | 0 | 2 | 4 | 1 |" in markdown
    assert "| medium | `images.mutable-tag` | `Pod/apps/web` | demo image | 2030-01-01 |" in markdown
