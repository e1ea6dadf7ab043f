"""Workloads' access to the object store: an S3 Secret per purpose, each holding the keys of that
purpose's MinIO user (object_store.WORKLOAD_USERS), never the root credentials.

- Katib trials (workload namespace): `TUNING_SECRET` (read-write), as `AWS_*` from `s3_env()`.
- KServe predictors (workload namespace): `SERVING_SECRET` (read-only), found by KServe's
  storage-initializer through the predictors' ServiceAccount and its `serving.kserve.io/s3-*`
  annotations (pkg/credentials/s3 at v0.20).
- KFP pipeline steps (KFP's namespace): `PIPELINE_STEP_SECRET` (read-write), in the format of KFP's
  own Secret (`accesskey`, `secretkey`), wired into each step by pipeline_ir. KFP's own Secret
  keeps the root credentials (object_store's docstring says why).

The rendered bundle holds no credentials for these: the kind/kube target applies them at `up`
(`workload_objects`, `pipeline_step_secret`) with the users' generated keys.
"""

from __future__ import annotations

import base64
from typing import Any

from appliance.targets.cluster.settings import FORWARDED, OBJECT_STORE, WORKLOAD_NAMESPACE

Obj = dict[str, Any]

TUNING_SECRET = "appliance-s3-tuning"
SERVING_SECRET = "appliance-s3-serving"
PIPELINE_STEP_SECRET = "appliance-s3-pipelines"
MODEL_SERVICE_ACCOUNT = "appliance-models"
# The key names inferenceservice-config's credentials.s3 names (s3AccessKeyIDName and
# s3SecretAccessKeyName in the rendered bundle), which are also what the AWS SDKs and stubs read.
ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
# The key names of KFP's mlpipeline-minio-artifact, kept for the pipeline steps' Secret.
KFP_ACCESS_KEY = "accesskey"
KFP_SECRET_KEY = "secretkey"
REGION = "us-east-1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "appliance"}

Keys = tuple[str, str]  # (access key, secret key) of one MinIO user


def in_cluster_endpoint() -> str:
    """host:port of the object store inside the cluster (MinIO's Service)."""
    service = FORWARDED[OBJECT_STORE]
    return f"{service.name}.{service.namespace}.svc.cluster.local:{service.port}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def s3_secret(name: str, namespace: str, data: dict[str, str], labels: dict[str, str] | None = None,
              annotations: dict[str, str] | None = None) -> Obj:
    """An Opaque Secret with base64 `data` (server-side apply refuses nothing, `stringData` is
    never sent)."""
    metadata: Obj = {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **(labels or {})}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque",
            "data": {key: _b64(value) for key, value in data.items()}}


def workload_objects(tuning: Keys, serving: Keys, *, namespace: str = WORKLOAD_NAMESPACE,
                     labels: dict[str, str] | None = None) -> list[Obj]:
    """The trials' Secret, the predictors' Secret and the ServiceAccount predictors run as, which
    lists only the predictors' (read-only) Secret for KServe."""
    kserve = {
        "serving.kserve.io/s3-endpoint": in_cluster_endpoint(),
        "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-verifyssl": "0",
        "serving.kserve.io/s3-region": REGION,
    }
    trials = s3_secret(TUNING_SECRET, namespace, {ACCESS_KEY_ID: tuning[0], SECRET_ACCESS_KEY: tuning[1]},
                       labels)
    predictors = s3_secret(SERVING_SECRET, namespace,
                           {ACCESS_KEY_ID: serving[0], SECRET_ACCESS_KEY: serving[1]}, labels, kserve)
    account = {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": MODEL_SERVICE_ACCOUNT, "namespace": namespace,
                     "labels": {**MANAGED_BY, **(labels or {})}},
        "secrets": [{"name": SERVING_SECRET}],
        # A model server never talks to the API server.
        "automountServiceAccountToken": False,
    }
    return [trials, predictors, account]


def pipeline_step_secret(pipelines: Keys, namespace: str,
                         labels: dict[str, str] | None = None) -> Obj:
    """The Secret every pipeline step reads AWS_* from (pipeline_ir's secretAsEnv)."""
    return s3_secret(PIPELINE_STEP_SECRET, namespace,
                     {KFP_ACCESS_KEY: pipelines[0], KFP_SECRET_KEY: pipelines[1]}, labels)


def s3_env() -> list[Obj]:
    """Container env that points a trial (the stubs, any AWS SDK) at the object store with the
    trials' Secret: the cluster's counterpart of ObjectStore.env() on the local target."""
    def from_secret(name: str) -> Obj:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": TUNING_SECRET, "key": name}}}

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
