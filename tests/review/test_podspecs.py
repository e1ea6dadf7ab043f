"""Pod templates inside Kubeflow custom resources are reviewed like any pod, at their real paths."""

from __future__ import annotations

import json

ISVC = """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: clf, namespace: models}
spec:
  predictor:
    hostNetwork: true
    model:
      modelFormat: {name: sklearn}
      storageUri: s3://models/clf
      securityContext: {privileged: true}
  transformer:
    containers:
    - name: pre
      image: registry.example/pre:latest
"""

EXPERIMENT = """apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: tune, namespace: exp}
spec:
  trialTemplate:
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
            - name: trainer
              image: registry.example/train:1
              securityContext: {capabilities: {add: [SYS_ADMIN]}}
"""

WORKFLOW = """apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: wf, namespace: pipes}
spec:
  securityContext: {runAsNonRoot: true}
  volumes:
  - {name: host, hostPath: {path: /var/run}}
  templates:
  - name: step
    container: {image: registry.example/step:1, securityContext: {privileged: true}}
  - name: dag
    dag: {tasks: []}
"""

PYTORCH = """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: train, namespace: jobs}
spec:
  pytorchReplicaSpecs:
    Master:
      template:
        spec:
          hostPID: true
          containers: [{name: pytorch, image: registry.example/pt:1}]
"""


def _pss(report) -> list[tuple[str, str | None, str]]:
    return [(f.rule, f.container, f.path_text) for f in report.findings
            if f.rule.startswith("pss.baseline.")]


def test_inference_service_components_and_model_container(review_yaml) -> None:
    report = review_yaml(ISVC)
    assert _pss(report) == [
        ("pss.baseline.privileged", "kserve-container",
         "spec.predictor.model.securityContext.privileged"),
        ("pss.baseline.host-namespaces", None, "spec.predictor.hostNetwork"),
    ]
    [image] = [f for f in report.findings if f.rule == "images.mutable-tag"]
    assert image.path_text == "spec.transformer.containers[0].image"
    assert image.message.startswith("transformer: ")
    assert report.inventory.pod_templates == 2 and report.inventory.pods == 0


def test_katib_trial_template(review_yaml) -> None:
    assert _pss(review_yaml(EXPERIMENT)) == [(
        "pss.baseline.capabilities", "trainer",
        "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].securityContext"
        ".capabilities.add[0]")]


def test_argo_templates_get_workflow_level_pod_fields(review_yaml) -> None:
    report = review_yaml(WORKFLOW)
    assert _pss(report) == [
        ("pss.baseline.privileged", "main", "spec.templates[0].container.securityContext"
                                            ".privileged"),
        ("pss.baseline.host-path-volumes", None, "spec.volumes[0].hostPath"),
    ]
    # runAsNonRoot comes from the workflow-level securityContext: no finding for it.
    assert not [f for f in report.findings if f.rule == "pss.restricted.run-as-non-root"]


def test_other_custom_resources_with_pod_templates(review_yaml) -> None:
    assert _pss(review_yaml(PYTORCH)) == [
        ("pss.baseline.host-namespaces", None,
         "spec.pytorchReplicaSpecs.Master.template.spec.hostPID")]


def test_inventory_of_a_small_bundle(review_yaml) -> None:
    report = review_yaml("""apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "r/web:1", securityContext: {runAsUser: 0}, ports: [{hostPort: 8080,
         containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec: {type: LoadBalancer, ports: [{port: 80}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: web}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: apps}]
""")
    inv = report.inventory.as_dict()
    assert (inv["objects"], inv["pods"], inv["containers"]) == (3, 3, 1)
    assert inv["root_containers"] == ["Deployment/apps/web:web"]
    assert inv["host_access"] == ["Deployment/apps/web: hostPort 8080 (web)"]
    assert inv["exposed_services"] == ["Service/apps/web (LoadBalancer)"]
    assert inv["cluster_wide_permissions"] == [
        "ServiceAccount apps/default -> ClusterRole cluster-admin [cluster-admin]"]
    [binding] = [f for f in report.findings if f.rule == "rbac.cluster-admin-binding"]
    assert binding.severity.value == "critical"
    assert "ServiceAccount apps/default is used by Deployment/apps/web" in binding.evidence


KATIB_CONFIG = """apiVersion: v1
kind: ConfigMap
metadata: {name: katib-config, namespace: katib}
data:
  katib-config.yaml: |
    apiVersion: config.kubeflow.org/v1beta1
    kind: KatibConfig
    init:
      controller: {injectSecurityContext: INJECT}
    runtime:
      metricsCollectors:
      - {kind: StdOut, image: "r/collector:1"}
      suggestions:
      - algorithmName: random
        image: r/hyperopt:1
        securityContext:
          runAsUser: 65532
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
      earlyStoppings:
      - {algorithmName: medianstop, image: "r/medianstop:1"}
---
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterStorageContainer
metadata: {name: default}
spec:
  container: {name: storage-initializer, image: "r/si:1", resources: {limits: {memory: 1Gi}}}
"""


def _restricted(report) -> list[tuple[str, str | None, str]]:
    return [(f.rule, f.container, f.path_text) for f in report.findings
            if f.rule.startswith("pss.restricted.")]


def test_katib_config_and_storage_container_templates(review_yaml) -> None:
    report = review_yaml(KATIB_CONFIG.replace("INJECT", "true"))
    early = 'data["katib-config.yaml"].runtime.earlyStoppings[0].securityContext'
    storage = "spec.container.securityContext"
    # The hardened suggestion passes; the early-stopping entry has no securityContext; the
    # collector copies the trial container's (injectSecurityContext) and is not reviewed here.
    assert sorted(_restricted(report)) == sorted([
        ("pss.restricted.allow-privilege-escalation", "early-stopping",
         f"{early}.allowPrivilegeEscalation"),
        ("pss.restricted.capabilities", "early-stopping", f"{early}.capabilities.drop"),
        ("pss.restricted.run-as-non-root", "early-stopping", f"{early}.runAsNonRoot"),
        ("pss.restricted.seccomp", "early-stopping", f"{early}.seccompProfile.type"),
        ("pss.restricted.allow-privilege-escalation", "storage-initializer",
         f"{storage}.allowPrivilegeEscalation"),
        ("pss.restricted.capabilities", "storage-initializer", f"{storage}.capabilities.drop"),
        ("pss.restricted.run-as-non-root", "storage-initializer", f"{storage}.runAsNonRoot"),
        ("pss.restricted.seccomp", "storage-initializer", f"{storage}.seccompProfile.type"),
    ])
    # Katib's resource defaults apply to entries without resources: no missing memory limit.
    assert not [f for f in report.findings if f.rule == "resources.no-memory-limit"]
    assert report.inventory.pod_templates == 3
    assert sorted(report.inventory.images) == ["r/hyperopt:1", "r/medianstop:1", "r/si:1"]
    without = review_yaml(KATIB_CONFIG.replace("INJECT", "false"))
    assert {f.container for f in without.findings if f.rule.startswith("pss.restricted.")} == {
        "early-stopping", "metrics-logger-and-collector", "storage-initializer"}


def test_a_katib_config_that_is_an_alias_bomb_is_skipped_not_expanded(review_yaml) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8))
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: katib-config, namespace: katib}\n"
                "data:\n  katib-config.yaml: " + json.dumps(bomb) + "\n")
    report = review_yaml(manifest)
    assert report.inventory.pod_templates == 0
