"""One failing and one passing fixture per rule (Pod Security rules: see test_pss_oracle.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from appliance.review.rules import CATALOG
from appliance.review.rules.secrets import password_name, secret_name

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
NON_PSS = sorted(rule for rule in CATALOG if not rule.startswith("pss."))


def test_every_rule_has_a_passing_and_a_failing_fixture() -> None:
    present = {p.name for p in FIXTURES.glob("*.yaml")}
    missing = [f"{rule}.{kind}.yaml" for rule in NON_PSS for kind in ("pass", "fail")
               if f"{rule}.{kind}.yaml" not in present]
    assert missing == []


def _expected(text: str) -> set[tuple[str, str | None]]:
    out = set()
    for match in re.finditer(r"^# expect: (\S+)(?: (\S+))?$", text, re.MULTILINE):
        out.add((match.group(1), match.group(2)))
    return out


@pytest.mark.parametrize("rule", NON_PSS)
def test_failing_fixture_reports_exactly_the_expected_findings(rule, review_yaml) -> None:
    text = (FIXTURES / f"{rule}.fail.yaml").read_text()
    report = review_yaml(text)
    found = {(str(f.resource), f.container) for f in report.findings if f.rule == rule}
    expected = _expected(text)
    assert expected, "the fixture must declare its expected findings"
    assert found == expected


@pytest.mark.parametrize("rule", NON_PSS)
def test_passing_fixture_reports_nothing_for_the_rule(rule, review_yaml) -> None:
    report = review_yaml((FIXTURES / f"{rule}.pass.yaml").read_text())
    assert [f.message for f in report.findings if f.rule == rule] == []


def test_severities_of_scoped_rbac_findings(review_yaml) -> None:
    cluster = review_yaml((FIXTURES / "rbac.secrets-cluster-wide.fail.yaml").read_text())
    namespaced = review_yaml((FIXTURES / "rbac.secrets-cluster-wide.pass.yaml").read_text())
    unbound = review_yaml((FIXTURES / "rbac.pods-exec.fail.yaml").read_text())
    assert [(f.rule, f.severity.value) for f in cluster.findings if f.rule.startswith("rbac.")] \
        == [("rbac.secrets-cluster-wide", "high")]
    assert [(f.rule, f.severity.value) for f in namespaced.findings
            if f.rule.startswith("rbac.")] == [("rbac.secrets-read", "medium")]
    assert [(f.rule, f.severity.value) for f in unbound.findings] == [("rbac.pods-exec", "low")]


def test_wildcard_is_one_root_cause_with_implied_powers_as_evidence(review_yaml) -> None:
    report = review_yaml("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: god}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: god}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: god}
subjects: [{kind: ServiceAccount, name: ctl, namespace: ops}]
""")
    rbac = [f for f in report.findings if f.rule.startswith("rbac.")]
    assert [(f.rule, f.severity.value, str(f.resource)) for f in rbac] == \
        [("rbac.wildcard", "critical", "ClusterRole/god")]
    assert "implies bind, escalate, impersonate, pods-exec, secrets-read, " \
           "webhook-configurations" in rbac[0].message
    assert "granted cluster-wide by ClusterRoleBinding/god to ServiceAccount ops/ctl" \
        in rbac[0].evidence


def test_privileged_explains_privilege_escalation(review_yaml) -> None:
    report = review_yaml("""
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: apps}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: "r/i:1@sha256:00"
    securityContext: {privileged: true, capabilities: {drop: [ALL]}}
    resources: {limits: {memory: 1Mi}}
""")
    assert sorted(f.rule for f in report.findings if f.rule.startswith("pss.")) == \
        ["pss.baseline.privileged"]


def test_literal_env_secrets_are_named_by_shape_whatever_the_variable_is_called(
        review_yaml) -> None:
    report = review_yaml((FIXTURES / "secrets.literal-env.fail.yaml").read_text())
    said = {(f.resource.name, f.container): f.message.split(" env ", 1)[1]
            for f in report.findings if f.rule == "secrets.literal-env"}
    assert {key: what for key, what in said.items() if key[0] == "values"} == {
        ("values", "pem-private-key"): "BOOT_MATERIAL holds a PEM private key",
        ("values", "aws-key-id"): "AWS_ACCESS_KEY_ID holds an AWS access key id",
        ("values", "jwt"): "SESSION holds a JWT",
        ("values", "jwt-in-header"): "AUTH_HEADER holds a JWT",
        ("values", "private-key-under-public-name"): "PUBLIC_KEY holds a PEM private key",
    }
    assert sorted(what for key, what in said.items() if key[0] == "names") == [
        "AWS_SECRET_ACCESS_KEY has a literal value", "AZURE_STORAGE_KEY has a literal value",
        "DB_CREDS has a literal value", "DB_PWD has a literal value",
        "ENCRYPTION_KEY has a literal value", "JWT has a literal value",
        "LICENSEKEY has a literal value", "SMTP_PASS has a literal value",
        "azure_batch_key has a literal value", "signingKey has a literal value"]
    assert {f.severity.value for f in report.findings if f.rule == "secrets.literal-env"} == \
        {"high"}


def test_configmap_secrets_by_name_and_by_shape(review_yaml) -> None:
    report = review_yaml((FIXTURES / "secrets.configmap.fail.yaml").read_text())
    assert sorted(f.message for f in report.findings if f.rule == "secrets.configmap") == [
        "ConfigMap aws-key-id key config holds an AWS access key id",
        "ConfigMap aws-secret-with-slashes key aws_secret looks like a secret value",
        "ConfigMap azure-batch-key key azure_batch_key looks like a secret value",
        "ConfigMap jwt-name key JWT looks like a secret value",
        "ConfigMap jwt-value key client.json holds a JWT",
        "ConfigMap pem-private-key key tls.key holds a PEM private key",
        "ConfigMap pwd key pwd looks like a secret value",
        "ConfigMap settings key db_password looks like a secret value",
    ]


# The examples docs/review.md gives for each choice about names ("Secrets in env and ConfigMaps").
@pytest.mark.parametrize("name", [
    "PGPASSWORD", "clientSecret", "GOOGLE_APPLICATION_CREDENTIALS", "DB_PWD", "db-pwd", "dbPwd",
    "pwd", "SMTP_PASS", "DB_CREDS", "HF_TOKEN", "accessToken", "OAuth2Token", "JWT",
    "ENCRYPTION_KEY", "AZURE_STORAGE_KEY", "azure_batch_key", "signingKey", "LICENSEKEY",
    "API_KEY_VALUE"])
def test_documented_secret_like_names(name) -> None:
    assert secret_name(name)


@pytest.mark.parametrize("name", [
    "BYPASS", "TOKENIZER", "MAX_TOKENS", "JWT_AUDIENCE", "PUBLIC_KEY", "sshPubKey", "SSHPUBKEY",
    "POD_LABEL_KEY", "SORT_KEY", "HOTKEY", "KEY", "AWS_ACCESS_KEY_ID", "kmsKeyId", "TOKEN_FILE",
    "secretName", "PASSWORD_ENABLED", "password_validation.py", "PWD"])
def test_documented_names_that_are_not_secret_like(name) -> None:
    assert not secret_name(name)


def test_documented_password_names() -> None:
    assert [n for n in ("DB_PWD", "dbPwd", "SMTP_PASS", "key_passphrase", "BYPASS", "PWD", "pwd")
            if password_name(n)] == ["DB_PWD", "dbPwd", "SMTP_PASS", "key_passphrase", "pwd"]
