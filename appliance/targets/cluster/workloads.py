"""The workload namespace's access to the object store: the S3 Secret and the ServiceAccount that
Katib trials and KServe predictors use, and the environment a stub trial reads s3:// with.

The rendered bundle has the namespace and its NetworkPolicies (trials and predictors may reach
MinIO on 9000) but no credentials in it: the kind/kube target applies `workload_objects(...)` at
`up`, with the generated object-store credentials (or a per-purpose MinIO user's, where the
object store engine creates one). KServe's storage-initializer finds the Secret through the
predictor's ServiceAccount and reads its `serving.kserve.io/s3-*` annotations
(pkg/credentials/s3 at v0.20); trials get the same keys as `AWS_*` variables from `s3_env()`.
"""

from __future__ import annotations

import base64
from typing import Any

from appliance.targets.cluster.settings import FORWARDED, OBJECT_STORE, WORKLOAD_NAMESPACE

Obj = dict[str, Any]

S3_SECRET = "appliance-s3"
MODEL_SERVICE_ACCOUNT = "appliance-models"
# The key names inferenceservice-config's credentials.s3 names (s3AccessKeyIDName and
# s3SecretAccessKeyName in the rendered bundle), which are also what the AWS SDKs and stubs read.
ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
REGION = "us-east-1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "appliance"}


def in_cluster_endpoint() -> str:
    """host:port of the object store inside the cluster (MinIO's Service)."""
    service = FORWARDED[OBJECT_STORE]
    return f"{service.name}.{service.namespace}.svc.cluster.local:{service.port}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def workload_objects(access_key: str, secret_key: str, *, namespace: str = WORKLOAD_NAMESPACE,
                     labels: dict[str, str] | None = None) -> list[Obj]:
    """The S3 Secret (base64 `data`: server-side apply refuses nothing, `stringData` is never
    sent) and the ServiceAccount predictors run as, which lists it for KServe."""
    meta_labels = {**MANAGED_BY, **(labels or {})}
    secret = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": S3_SECRET, "namespace": namespace, "labels": dict(meta_labels),
            "annotations": {
                "serving.kserve.io/s3-endpoint": in_cluster_endpoint(),
                "serving.kserve.io/s3-usehttps": "0",
                "serving.kserve.io/s3-verifyssl": "0",
                "serving.kserve.io/s3-region": REGION,
            },
        },
        "type": "Opaque",
        "data": {ACCESS_KEY_ID: _b64(access_key), SECRET_ACCESS_KEY: _b64(secret_key)},
    }
    account = {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": MODEL_SERVICE_ACCOUNT, "namespace": namespace, "labels": dict(meta_labels)},
        "secrets": [{"name": S3_SECRET}],
        # A model server never talks to the API server.
        "automountServiceAccountToken": False,
    }
    return [secret, account]


def s3_env() -> list[Obj]:
    """Container env that points the stubs (and any AWS SDK) at the object store with the Secret's
    keys: the cluster's counterpart of ObjectStore.env() on the local target."""
    def from_secret(name: str) -> Obj:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": S3_SECRET, "key": name}}}

    return [
        from_secret(ACCESS_KEY_ID),
        from_secret(SECRET_ACCESS_KEY),
        {"name": "AWS_ENDPOINT_URL", "value": f"http://{in_cluster_endpoint()}"},
        {"name": "AWS_DEFAULT_REGION", "value": REGION},
    ]


# Pod Security `restricted` for a container the appliance starts (predictors, stub trials): the
# stubs image runs as 65532 (stubs/Dockerfile); Katib copies a trial container's context to its
# metrics sidecar (injectSecurityContext), so setting it on the container covers both.
RESTRICTED_CONTAINER: Obj = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
