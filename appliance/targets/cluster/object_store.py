"""The object store of a cluster stack: MinIO through the local forward with the generated root
credentials (for the appliance itself and `appliance env` only), and one MinIO user per workload
purpose with a policy confined to the bucket, so trials, predictors and pipeline steps never hold
the root credentials.

MinIO has no declarative users: they are created through its admin API (`minio.MinioAdmin`), which
needs the root credentials and the forward, so the bring-up does it once MinIO is ready and the
forward is up (bringup.ensure_users), retrying while the admin API is not answering yet. Every
call is idempotent on a repeated run: add-canned-policy and add-user overwrite, and
set-user-or-group-policy replaces the user's mapping. That call is the one the pinned MinIO
(RELEASE.2025-09-07) still serves and marks deprecated in favour of `idp/builtin/policy/attach`;
attach is not used because attaching an attached policy is refused
(XMinioAdminPolicyChangeAlreadyApplied), which would fail every repeated run.

KFP's own Secret (kubeflow/mlpipeline-minio-artifact: the API server, Argo's log and artifact
archive, KFP's launcher) keeps the root credentials. KFP's API server checks and creates its bucket
with those keys when it starts and exits when the check fails (client_manager.go
createMinioBucket, glog.Fatalf), and it starts during the readiness stage, before the forward
exists and so before any user can be created: with a per-purpose user there, readiness would wait
for a user that is only created after it. Pipeline steps get the pipelines user instead, through a
Secret of their own (workloads.PIPELINE_STEP_SECRET).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from appliance.errors import EXIT_EXTERNAL, ApplianceError, BadInput
from appliance.objectstore import DEFAULT_BUCKET, ObjectStore
from appliance.targets.cluster.settings import OBJECT_STORE, ClusterSettings

# The credential ids the catalog generates for MinIO's root user (profiles/components/object-store.yaml).
ACCESS_KEY = "object-store-access-key"
SECRET_KEY = "object-store-secret-key"

READ_WRITE = "readwrite"
READ_ONLY = "readonly"
PIPELINES = "pipelines"
TUNING = "tuning"
SERVING = "serving"

# MinIO answers 503 while its object layer or IAM subsystem starts (XMinioServerNotInitialized,
# XMinioIAMNotInitialized): the only answer worth waiting out besides no connection at all.
NOT_READY_STATUS = "503"
# One admin request may take this long; the bring-up's wait retries within its own budget.
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class WorkloadUser:
    """A MinIO user for one purpose (`access`: readwrite or readonly on the bucket's objects)."""

    purpose: str
    access: str
    bucket: str = DEFAULT_BUCKET

    @property
    def access_key(self) -> str:
        return f"appliance-{self.purpose}"

    @property
    def secret_key_id(self) -> str:
        """The credential id (credentials.json) of this user's secret key."""
        return f"object-store-{self.purpose}-secret-key"

    @property
    def policy_name(self) -> str:
        return f"appliance-{self.purpose}-{self.access}"

    def keys(self, credentials: Mapping[str, str]) -> tuple[str, str]:
        """(access key, secret key) of this user from the stack's credentials."""
        require_secrets(credentials, (self,))
        return self.access_key, credentials[self.secret_key_id]

    def policy(self) -> dict[str, Any]:
        """An S3 policy limited to the bucket: list it, and read (and, for readwrite, write) objects."""
        bucket = f"arn:aws:s3:::{self.bucket}"
        objects = ["s3:GetObject"]
        if self.access == READ_WRITE:
            objects += ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts"]
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket",
                                               "s3:ListBucketMultipartUploads"],
                 "Resource": [bucket]},
                {"Effect": "Allow", "Action": objects, "Resource": [f"{bucket}/*"]},
            ],
        }


# Pipeline steps write datasets, models and the registry; trials write models; predictors only
# read them. All in the one bucket the appliance and KFP use (DEFAULT_BUCKET, KFP's `mlpipeline`).
WORKLOAD_USERS = (
    WorkloadUser(PIPELINES, READ_WRITE),
    WorkloadUser(TUNING, READ_WRITE),
    WorkloadUser(SERVING, READ_ONLY),
)
USERS = {user.purpose: user for user in WORKLOAD_USERS}


class AdminFailed(ApplianceError):
    """MinIO's admin API refused a call (exit 4)."""

    exit_code = EXIT_EXTERNAL


class AdminNotReady(AdminFailed):
    """MinIO's admin API is not answering yet: no connection, or 503 while MinIO starts."""


class MinioAdminApi(Protocol):
    """The admin calls used here, as `minio.MinioAdmin` names them (the seam tests fake)."""

    def policy_add(self, policy_name: str, policy_file: Any = None,
                   policy: dict[str, Any] | None = None) -> str: ...

    def user_add(self, access_key: str, secret_key: str) -> str: ...

    def policy_set(self, policy_name: str, user: str | None = None,
                   group: str | None = None) -> str: ...


def object_store(settings: ClusterSettings, credentials: Mapping[str, str]) -> ObjectStore:
    """MinIO through the local forward with the root credentials: what the appliance itself uses
    (buckets, the registry, `appliance env`), exactly as the local target's moto server."""
    missing = [key for key in (ACCESS_KEY, SECRET_KEY) if not credentials.get(key)]
    if missing:
        raise BadInput(f"the stack's credentials lack {', '.join(missing)}",
                       "credentials.json in the run dir is incomplete",
                       "run 'appliance up' again for this stack (it keeps existing values)")
    return ObjectStore(endpoint=settings.url(OBJECT_STORE), access_key=credentials[ACCESS_KEY],
                       secret_key=credentials[SECRET_KEY])


def require_secrets(credentials: Mapping[str, str], users: tuple[WorkloadUser, ...]) -> None:
    """BadInput naming every user whose generated secret key is missing from `credentials`."""
    missing = [user.secret_key_id for user in users if not credentials.get(user.secret_key_id)]
    if missing:
        raise BadInput(f"the stack's credentials lack {', '.join(missing)}",
                       "the workload users' secrets are generated with the stack's other credentials",
                       "run 'appliance up' again for this stack (it keeps existing values)")


def with_workload_secrets(credentials: Mapping[str, str], token: Callable[[], str]) -> dict[str, str]:
    """`credentials` plus a generated secret key for each workload user that has none yet: kept in
    credentials.json with the rest, so a repeated `up` reuses them."""
    out = dict(credentials)
    for user in WORKLOAD_USERS:
        if not out.get(user.secret_key_id):
            out[user.secret_key_id] = token()
    return out


def admin_client(store: ObjectStore) -> MinioAdminApi:
    """The real admin API over the same forward and root credentials. Requests time out after
    REQUEST_TIMEOUT and are not retried here (minio's default is 5 minutes and 5 retries): the
    bring-up retries through its clock, within `up`'s --timeout."""
    import urllib3
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    parsed = urlparse(store.endpoint)
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=REQUEST_TIMEOUT, read=REQUEST_TIMEOUT),
                               retries=False)
    admin: MinioAdminApi = MinioAdmin(
        endpoint=parsed.netloc, credentials=StaticProvider(store.access_key, store.secret_key),
        region=store.region, secure=parsed.scheme == "https", http_client=http)
    return admin


def ensure_workload_users(admin: MinioAdminApi, credentials: Mapping[str, str],
                          users: tuple[WorkloadUser, ...] = WORKLOAD_USERS) -> list[str]:
    """Create (or refresh) each user's policy, the user with its generated secret, and the mapping;
    returns the access keys. AdminNotReady while MinIO is not answering yet (retry), AdminFailed
    for any other refusal. A secret missing from `credentials` is bad input."""
    require_secrets(credentials, users)
    done = []
    for user in users:
        try:
            admin.policy_add(user.policy_name, policy=user.policy())
            admin.user_add(user.access_key, credentials[user.secret_key_id])
            admin.policy_set(user.policy_name, user=user.access_key)
        except Exception as exc:  # MinioAdminException, urllib3 errors: name the user, never the secret
            raise _refusal(user, exc) from None
        done.append(user.access_key)
    return done


def _refusal(user: WorkloadUser, exc: Exception) -> AdminFailed:
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    why = f"{type(exc).__name__}: {first}".rstrip(": ")
    if _not_ready(exc):
        return AdminNotReady(f"MinIO's admin API is not ready to set up user {user.access_key}", why,
                             "wait for MinIO to start ('appliance status'), then 'appliance up' again")
    return AdminFailed(f"MinIO refused to set up user {user.access_key}", why,
                       "check that MinIO is ready ('appliance status'), then 'appliance up' again")


def _not_ready(exc: Exception) -> bool:
    import urllib3
    from minio.error import MinioAdminException

    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError):
        return True  # refused, reset, timed out: the forward or MinIO is not answering yet
    # The exception keeps the HTTP status only in `_code` (no public accessor in minio 7.2).
    return isinstance(exc, MinioAdminException) and exc._code == NOT_READY_STATUS
