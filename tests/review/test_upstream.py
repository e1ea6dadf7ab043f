"""The real upstream manifests (../shared/upstream) and the hardened profiles rendered from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.review import Severity, review
from appliance.review.loader import load_paths


def default_credentials(path: Path) -> set[tuple[str, str]]:
    report = review(load_paths([str(path)]))
    return {(str(f.resource), f.path_text) for f in report.findings
            if f.rule == "secrets.default-credentials"}


def test_kfp_shows_its_default_credentials(upstream) -> None:
    path = upstream / "kfp-platform-agnostic-2.17.0.yaml"
    assert default_credentials(path) == {
        ("Secret/kubeflow/mlpipeline-minio-artifact", "stringData.secretkey"),  # minio/minio123
        ("Secret/kubeflow/mysql-secret", "stringData.password"),  # root with ""
        ("Deployment/kubeflow/mysql", "spec.template.spec.containers[0].env[0].value"),
    }
    report = review(load_paths([str(path)]))
    [minio] = [f for f in report.findings if f.resource.name == "mlpipeline-minio-artifact"]
    assert "minio123" in minio.message and minio.severity is Severity.CRITICAL
    assert minio.location is not None and minio.location.line == 17920
    assert report.inventory.objects == 88
    assert report.gating(Severity.HIGH)


def test_katib_shows_its_mysql_password(upstream) -> None:
    found = default_credentials(upstream / "katib-standalone-v0.19.0.yaml")
    assert ("Secret/kubeflow/katib-mysql-secrets", "data.MYSQL_ROOT_PASSWORD") in found


def test_full_platform_every_object_reviewed(upstream) -> None:
    report = review(load_paths([str(upstream / "kubeflow-platform-example-26.03.yaml")]))
    inv = report.inventory
    assert inv.objects == 675 and len(inv.crds) == 74
    found = {(f.rule, str(f.resource)) for f in report.findings}
    assert ("secrets.default-credentials", "Secret/auth/dex-passwords") in found  # Dex example
    assert ("secrets.default-credentials", "Secret/kubeflow/katib-mysql-secrets") in found
    assert ("rbac.cluster-admin-binding",
            "ClusterRoleBinding/profiles-cluster-rolebinding") in found
    assert ("pss.baseline.host-path-volumes", "DaemonSet/kube-system/istio-cni-node") in found
    assert any(p.startswith("ServiceAccount kubeflow/profiles-controller-service-account -> "
                            "ClusterRole cluster-admin") for p in inv.cluster_wide_permissions)


@pytest.mark.parametrize("profile", ["minimal", "standard", "serving"])
def test_hardened_profiles_show_nothing_high_but_documented_exceptions(upstream, profile) -> None:
    from appliance.review import Options, known_rules
    from appliance.review.sources import from_profile

    source = from_profile(profile, known_rules())
    report = review(source.documents, Options(exceptions=source.exceptions), source.sources)
    assert report.inventory.objects == len(source.documents) > 0
    assert [f"{f.rule} {f.resource}" for f in report.gating(Severity.HIGH)] == []
    assert not any("minio123" in f.message for f in report.findings)
    suppressed = [f for f in report.findings if f.suppressed]
    assert all(f.suppression and f.suppression.reason.strip() for f in suppressed)
    # Nothing is silent: what cannot meet `restricted` (Katib's early-stopping container, whose
    # config has no securityContext field) is reported, and suppressed by the catalog's reason.
    early_stopping = sorted(f.rule for f in suppressed if f.container == "early-stopping")
    assert early_stopping == ([] if profile != "standard" else [
        "pss.restricted.allow-privilege-escalation", "pss.restricted.capabilities",
        "pss.restricted.run-as-non-root", "pss.restricted.seccomp"])
    assert all(str(f.resource) == "ConfigMap/katib/katib-config" for f in suppressed
               if f.container == "early-stopping")
    assert len(suppressed) == {"minimal": 4, "serving": 2, "standard": 13}[profile]
    # The runtime container templates reviewed with the bundle are all restricted.
    assert not [f for f in report.findings if not f.suppressed and f.rule.startswith("pss.")]
