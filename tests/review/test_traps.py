"""The false positives users report about other scanners, each as a fixture that must stay quiet."""

from __future__ import annotations

HARDENED_CONTAINER = """
      - name: {name}
        image: "registry.example/app:1.0@sha256:0d4e"
        resources: {{limits: {{memory: 64Mi}}}}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {{drop: [ALL]}}
"""


def test_pod_level_security_context_is_inherited_by_containers(review_yaml) -> None:
    report = review_yaml("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        seccompProfile: {type: RuntimeDefault}
      containers:""" + HARDENED_CONTAINER.format(name="web"))
    assert [f.rule for f in report.findings if f.rule.startswith("pss.")] == []


def test_container_level_settings_without_pod_level_also_pass(review_yaml) -> None:
    report = review_yaml("""
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers:
  - name: web
    image: "registry.example/app:1.0@sha256:0d4e"
    securityContext:
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
""")
    assert [f.rule for f in report.findings if f.rule.startswith("pss.")] == []


def test_network_policy_in_another_document_and_file_covers_the_pod(review_yaml, tmp_path) -> None:
    from appliance.review import review
    from appliance.review.loader import load_paths

    (tmp_path / "app.yaml").write_text("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers: [{name: web, image: "r/web:1"}]
""")
    (tmp_path / "policies.yaml").write_text("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: front, namespace: apps}
spec:
  podSelector:
    matchExpressions: [{key: tier, operator: In, values: [front]}]
  ingress: [{from: [{podSelector: {matchLabels: {app: lb}}}]}]
""")
    report = review(load_paths([str(tmp_path / "app.yaml"), str(tmp_path / "policies.yaml")]))
    assert [f for f in report.findings if f.rule.startswith("netpol.")] == []
    alone = review(load_paths([str(tmp_path / "app.yaml")]))
    assert [f.rule for f in alone.findings if f.rule.startswith("netpol.")] == \
        ["netpol.not-covered"]


def test_policy_in_another_namespace_does_not_cover(review_yaml) -> None:
    report = review_yaml("""
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps, labels: {app: web}}
spec: {containers: [{name: web, image: "r/web:1"}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: other}
spec: {podSelector: {}}
""")
    assert [f.rule for f in report.findings if f.rule.startswith("netpol.")] == \
        ["netpol.not-covered"]


def test_resource_names_scoped_secret_reads_are_not_reported(review_yaml) -> None:
    report = review_yaml("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: own-cert}
rules:
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: ["webhook-cert"]
  verbs: ["get", "list", "watch", "update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: own-cert}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: own-cert}
subjects: [{kind: ServiceAccount, name: ctl, namespace: ops}]
""")
    assert [f.rule for f in report.findings if f.rule.startswith("rbac.")] == []


def test_init_containers_need_no_memory_limit_but_still_pod_security(review_yaml) -> None:
    report = review_yaml("""
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  initContainers:
  - name: migrate
    image: "registry.example/app:1.0@sha256:0d4e"
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
  - name: bad-init
    image: "registry.example/app:1.0@sha256:0d4e"
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]},
                      privileged: true}
  containers:""" + HARDENED_CONTAINER.format(name="web").replace("\n      ", "\n  "))
    assert [f.rule for f in report.findings if f.rule.startswith("resources.")] == []
    assert [(f.rule, f.container) for f in report.findings if f.rule.startswith("pss.")] == \
        [("pss.baseline.privileged", "bad-init")]


AGGREGATED = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: platform-admin}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {example.com/aggregate-to-platform-admin: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: platform-secrets
  labels: {example.com/aggregate-to-platform-admin: "true"}
rules:
- {apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: edit-extension
  labels: {rbac.authorization.k8s.io/aggregate-to-edit: "true"}
rules:
- {apiGroups: ["example.com"], resources: ["widgets"], verbs: ["*"]}
"""


def test_aggregated_roles_report_the_component_rule_at_the_aggregators_scope(review_yaml) -> None:
    binding = """
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: platform-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: platform-admin}
subjects: [{kind: User, name: alice}]
"""
    report = review_yaml(AGGREGATED + binding)
    rbac = [(f.rule, str(f.resource), f.severity.value) for f in report.findings
            if f.rule.startswith("rbac.")]
    # The empty aggregating role is not reported; its component is, cluster-wide, once; the
    # edit extension is aggregated into built-in edit (bound outside the bundle): namespaced.
    assert rbac == [("rbac.secrets-cluster-wide", "ClusterRole/platform-secrets", "high"),
                    ("rbac.wildcard", "ClusterRole/edit-extension", "low")]
    [secrets] = [f for f in report.findings if f.rule == "rbac.secrets-cluster-wide"]
    assert any("via aggregated ClusterRole platform-admin" in e for e in secrets.evidence)
    unbound = review_yaml(AGGREGATED)
    assert [(f.rule, f.severity.value) for f in unbound.findings
            if f.resource.name == "platform-secrets"] == [("rbac.secrets-read", "low")]


def test_tokens_of_accounts_with_grants_are_not_reported(review_yaml) -> None:
    report = review_yaml("""
apiVersion: v1
kind: Pod
metadata: {name: ctl, namespace: ops}
spec:
  serviceAccountName: ctl
  containers: [{name: ctl, image: "r/ctl:1"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ctl, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: ctl}]
""")
    assert [f.rule for f in report.findings if f.rule.startswith("sa.")] == []
