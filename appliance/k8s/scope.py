"""Which built-in kinds live outside namespaces (custom kinds say so in their CRD's spec.scope)."""

from __future__ import annotations

BUILTIN_CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "StorageClass", "IngressClass", "RuntimeClass",
    "CSIDriver", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
})
