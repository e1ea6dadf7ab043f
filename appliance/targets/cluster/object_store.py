"""The object store of a cluster stack: MinIO through the local forward with the generated root
credentials (for the appliance and `appliance env`), and one MinIO user per workload purpose with a
policy confined to the bucket, so pods never hold the root credentials.

MinIO has no declarative users: they are created through its admin API (`minio.MinioAdmin`), which
needs the root credentials and the forward, so this runs from the appliance once MinIO is ready.
Every call is idempotent: MinIO's add-user and add-canned-policy overwrite, and setting a user's
policy replaces the previous mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        """The credential id (credentials.json, catalog) of this user's secret key."""
        return f"object-store-{self.purpose}-secret-key"

    @property
    def policy_name(self) -> str:
        return f"appliance-{self.purpose}-{self.access}"

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


# Pipeline steps, Argo's artifact and log archive and the KFP API server share one user (they share
# the Secret mlpipeline-minio-artifact); trials write models; predictors only read them.
WORKLOAD_USERS = (
    WorkloadUser("pipelines", READ_WRITE),
    WorkloadUser("tuning", READ_WRITE),
    WorkloadUser("serving", READ_ONLY),
)


class AdminFailed(ApplianceError):
    """MinIO's admin API failed (exit 4)."""

    exit_code = EXIT_EXTERNAL


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


def admin_client(store: ObjectStore) -> MinioAdminApi:
    """The real admin API over the same forward and root credentials."""
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    parsed = urlparse(store.endpoint)
    admin: MinioAdminApi = MinioAdmin(
        endpoint=parsed.netloc, credentials=StaticProvider(store.access_key, store.secret_key),
        region=store.region, secure=parsed.scheme == "https")
    return admin


def ensure_workload_users(admin: MinioAdminApi, credentials: Mapping[str, str],
                          users: tuple[WorkloadUser, ...] = WORKLOAD_USERS) -> list[str]:
    """Create (or refresh) each user with its generated secret and bind its policy; returns the
    access keys. A secret missing from `credentials` is bad input: the catalog generates them."""
    missing = [user.secret_key_id for user in users if not credentials.get(user.secret_key_id)]
    if missing:
        raise BadInput(f"the stack's credentials lack {', '.join(missing)}",
                       "the workload users' secrets are generated with the stack's other credentials",
                       "run 'appliance up' again for this stack (it keeps existing values)")
    done = []
    for user in users:
        try:
            admin.policy_add(user.policy_name, policy=user.policy())
            admin.user_add(user.access_key, credentials[user.secret_key_id])
            admin.policy_set(user.policy_name, user=user.access_key)
        except Exception as exc:  # MinioAdminException, urllib3 errors: name the user, never the secret
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise AdminFailed(f"MinIO refused to set up user {user.access_key}",
                              f"{type(exc).__name__}: {first}".rstrip(": "),
                              "check that MinIO is ready ('appliance status'), then 'appliance up' again",
                              ) from None
        done.append(user.access_key)
    return done

