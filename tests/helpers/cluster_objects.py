"""Small Kubernetes objects for the cluster tests, shaped as the rendered bundle shapes them."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.32",
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(RESTRICTED_LABELS if labels is None else labels)}}


# The schema of the tests' minimal CRDs: anything goes (nothing pruned, nothing refused).
ANYTHING: Obj = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def crd(group: str = "example.dev", kind: str = "Widget", plural: str = "widgets",
        scope: str = "Namespaced", schema: Obj | None = None) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope,
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                           "listKind": f"{kind}List"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": copy.deepcopy(schema or ANYTHING)}}]},
    }


def custom(name: str, namespace: str | None = "apps", kind: str = "Widget",
           api_version: str = "example.dev/v1", spec: Obj | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec or {"size": 1}}


def container(name: str, image: str = "registry.example/app:1.0", memory: str = "64Mi",
              security: Obj | None = None, **extra: Any) -> Obj:
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "resources": {"requests": {"cpu": "50m", "memory": memory},
                          "limits": {"cpu": "100m", "memory": memory}},
            "securityContext": copy.deepcopy(RESTRICTED_CONTAINER if security is None else security),
            **extra}


def deployment(name: str, namespace: str = "apps", containers: list[Obj] | None = None,
               replicas: int | None = 1, labels: dict[str, str] | None = None, **pod_spec: Any) -> Obj:
    selector = labels or {"app": name}
    spec: Obj = {"selector": {"matchLabels": dict(selector)},
                 "template": {"metadata": {"labels": dict(selector)},
                              "spec": {"containers": containers or [container(name)], **pod_spec}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def service(name: str, namespace: str = "apps", selector: dict[str, str] | None = None,
            port: int = 443, target: int | str = 8443) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector or {"app": name},
                     "ports": [{"name": "https", "port": port, "targetPort": target}]}}


def webhook_config(name: str, service_name: str, namespace: str = "apps", *,
                   group: str = "example.dev", resource: str = "widgets", ca: bool = True,
                   kind: str = "ValidatingWebhookConfiguration", failure_policy: str | None = None,
                   **selectors: Any) -> Obj:
    hook: Obj = {
        "name": f"validate.{name}",
        "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "clientConfig": {"service": {"name": service_name, "namespace": namespace, "path": "/validate"}},
        "rules": [{"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                   "resources": [resource]}],
        **selectors,
    }
    if ca:
        hook["clientConfig"]["caBundle"] = "Y2E="
    if failure_policy:
        hook["failurePolicy"] = failure_policy
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name}, "webhooks": [hook]}


def secret(name: str, namespace: str = "apps", data: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "data": dict(data or {})}
