"""MinIO for the tests: its IAM admin API (FakeMinioAdmin, in memory, for every tier) and, for the
integration tier, its S3 API (FakeMinio).

FakeMinioAdmin answers the three calls the bring-up makes through `minio.MinioAdmin` (add-canned-
policy, add-user, set-user-or-group-policy) as the pinned server does (RELEASE.2025-09-07,
cmd/admin-handlers-users.go and cmd/iam.go): nothing answers before MinIO started (the forward
resets the connection), then 503 XMinioServerNotInitialized for the first `not_ready` calls, only
the root user may call it, a policy needs a Version, add-user refuses the root's access key and
secret keys outside 8-40 characters, and setting a policy refuses an unknown user or policy and
replaces the user's mapping. Errors are minio's own MinioAdminException with MinIO's JSON bodies.

FakeMinio is moto's S3 server in this process, wrapped as the local target wraps it
(appliance/targets/local/s3_server.py: SigV4 verified by moto's IAM emulation, S3's refusals for
unsigned and non-SigV4 requests, S3's preconditions and atomic conditional writes). Its root user
is MinIO's: the access and secret key of the cluster's Secret object-store/minio-credentials, as
the minio Deployment is given them (MINIO_ROOT_USER/PASSWORD). The users its admin API creates
become moto IAM users with their canned policy as their one user policy, so S3 requests with a
workload user's keys are allowed or refused by that policy (moto's evaluation, AWS's rules; MinIO
evaluates the same policy language).

moto keeps its state in process-global backends: `close()` resets the S3 and IAM backends and
restores moto's authentication setting, so later tests in the process see a clean moto.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from fake_cluster import FakeCluster
from minio.error import MinioAdminException
from urllib3.exceptions import ProtocolError

from appliance.objectstore import ObjectStore
from appliance.targets.cluster.client import ObjRef
from appliance.targets.local import s3_server

ROOT_USER = "minio-root"
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def minio_root(cluster: FakeCluster) -> tuple[str, str]:
    """The root user the cluster's minio Deployment gets from its Secret."""
    secret = cluster.get(ObjRef("v1", "Secret", "minio-credentials", "object-store"))
    if secret is None:
        raise AssertionError("Secret object-store/minio-credentials is not in the cluster")
    data = secret.get("data") or {}
    return (base64.b64decode(data["rootUser"]).decode(), base64.b64decode(data["rootPassword"]).decode())


def _refused(status: int, code: str, message: str) -> MinioAdminException:
    """What minio.MinioAdmin raises for MinIO's JSON error answer (writeErrorResponseJSON)."""
    return MinioAdminException(str(status), json.dumps({"Code": code, "Message": message}))


class FakeMinioAdmin:
    """MinIO's IAM, in memory. `start(root)` is MinIO starting; `client(store)` is what
    object_store.admin_client returns for the store's credentials. `calls` records each call
    (name, subject) that reached the server; secrets are never recorded."""

    def __init__(self, not_ready: int = 0, on_change: Callable[[FakeMinioAdmin], None] | None = None) -> None:
        self.root: tuple[str, str] | None = None
        self.not_ready = not_ready
        self.on_change = on_change
        self.policies: dict[str, dict[str, Any]] = {}
        self.users: dict[str, str] = {}  # access key -> secret key
        self.mapping: dict[str, str] = {}  # access key -> policy name
        self.calls: list[tuple[str, str]] = []

    def start(self, access_key: str, secret_key: str) -> None:
        self.root = (access_key, secret_key)

    def start_from(self, cluster: FakeCluster) -> None:
        self.start(*minio_root(cluster))

    def client(self, store: ObjectStore) -> _AdminClient:
        return _AdminClient(self, (store.access_key, store.secret_key))

    def _enter(self, caller: tuple[str, str], call: str, subject: str) -> None:
        if self.root is None:  # the pod is not there: kubectl's forward drops the connection
            raise ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
        self.calls.append((call, subject))
        if self.not_ready > 0:
            self.not_ready -= 1
            raise _refused(503, "XMinioServerNotInitialized", "Server not initialized yet, please try again.")
        if caller[0] != self.root[0]:
            raise _refused(403, "InvalidAccessKeyId",
                           "The Access Key Id you provided does not exist in our records.")
        if caller[1] != self.root[1]:
            raise _refused(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                           "match the signature you provided. Check your key and signing method.")

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


class _AdminClient:
    """The three `minio.MinioAdmin` methods the bring-up calls, with their signatures."""

    def __init__(self, server: FakeMinioAdmin, caller: tuple[str, str]) -> None:
        self.server = server
        self.caller = caller

    def policy_add(self, policy_name: str, policy_file: Any = None,
                   policy: dict[str, Any] | None = None) -> str:
        if not (policy_file is not None) ^ (policy is not None):  # minio's own check, client-side
            raise ValueError("either policy_file or policy must be provided")
        assert policy_file is None, "the bring-up never writes a policy to a file"
        self.server._enter(self.caller, "add-canned-policy", policy_name)
        if "," in policy_name or policy_name.strip() != policy_name:
            raise _refused(400, "XMinioAdminResourceInvalidArgument", "Policy name is invalid")
        if not policy or not policy.get("Statement"):
            raise _refused(400, "XMinioMalformedJSON", "The JSON you provided was not well-formed or "
                           "did not validate against our published format.")
        if not policy.get("Version"):
            raise _refused(400, "XMinioPolicyInvalidVersion", "Invalid policy version")
        self.server.policies[policy_name] = copy.deepcopy(policy)
        self.server._changed()
        return ""

    def user_add(self, access_key: str, secret_key: str) -> str:
        server = self.server
        server._enter(self.caller, "add-user", access_key)
        assert server.root is not None
        if access_key == server.root[0]:
            raise _refused(400, "XMinioAdminAddUserInvalidArgument", "Invalid argument for add user")
        if len(access_key) < 3:
            raise _refused(400, "XMinioAdminInvalidAccessKey", "The access key is invalid.")
        if not 8 <= len(secret_key) <= 40:
            raise _refused(400, "XMinioAdminInvalidSecretKey", "The secret key is invalid.")
        server.users[access_key] = secret_key  # the policy mapping stays, as in MinIO
        server._changed()
        return ""

    def policy_set(self, policy_name: str, user: str | None = None, group: str | None = None) -> str:
        if not (user is not None) ^ (group is not None):
            raise ValueError("either user or group must be set")
        assert user is not None, "the bring-up never maps a group"
        server = self.server
        server._enter(self.caller, "set-user-or-group-policy", f"{user}={policy_name}")
        if user not in server.users:
            raise _refused(404, "XMinioAdminNoSuchUser", "The specified user does not exist.")
        if policy_name not in server.policies:
            raise _refused(404, "XMinioAdminNoSuchPolicy", "The canned policy does not exist.")
        server.mapping[user] = policy_name  # replaces the user's mapping
        server._changed()
        return ""


class FakeMinio:
    """Start with `FakeMinio()` (serving at once, refusing every key until `root_user`)."""

    def __init__(self) -> None:
        from moto import settings
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self._settings = settings
        self._saved_auth = settings.INITIAL_NO_AUTH_ACTION_COUNT
        s3_server.install_moto_hook()
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # every request is authenticated from now on
        app = s3_server.require_signature(s3_server.atomic_conditional_writes(
            DomainDispatcherApplication(create_backend_app)))
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.admin = FakeMinioAdmin(on_change=self._mirror)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def root_user(self, access_key: str, secret_key: str) -> None:
        """MinIO starts with this root user (idempotent: a second call replaces the key)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends

        iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
        if not any(user.name == ROOT_USER for user in iam.list_users("/", None, None)):
            iam.create_user(region_name=s3_server.REGION, user_name=ROOT_USER)
            iam.put_user_policy(ROOT_USER, "root", ALLOW_ALL)
        _set_key(iam, ROOT_USER, access_key, secret_key)
        self.admin.start(access_key, secret_key)

    def root_user_from(self, cluster: FakeCluster) -> None:
        """The root user the cluster's minio Deployment gets from its Secret."""
        self.root_user(*minio_root(cluster))

    def _mirror(self, admin: FakeMinioAdmin) -> None:
        """The admin API's users as moto IAM users: the user's key, and its mapped canned policy as
        its one user policy (none mapped: every request refused, as MinIO refuses it)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends

        iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
        known = {user.name for user in iam.list_users("/", None, None)}
        for access_key, secret_key in admin.users.items():
            if access_key not in known:
                iam.create_user(region_name=s3_server.REGION, user_name=access_key)
            _set_key(iam, access_key, access_key, secret_key)
            if access_key in admin.mapping:
                policy = admin.policies[admin.mapping[access_key]]
                iam.put_user_policy(access_key, "minio", json.dumps(policy))

    def close(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends

        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        s3_server.s3_backend().reset()
        iam_backends[DEFAULT_ACCOUNT_ID]["global"].reset()
        self._settings.INITIAL_NO_AUTH_ACTION_COUNT = self._saved_auth

    def __enter__(self) -> FakeMinio:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _set_key(iam: Any, user: str, access_key: str, secret_key: str) -> None:
    """The moto user's one access key, set to MinIO's (moto makes up its keys; a MinIO user's key
    is the one it was given). Changed in place: moto indexes a key by the id it generated."""
    keys = iam.get_user(user).access_keys
    key = keys[0] if keys else iam.create_access_key(user)
    key.access_key_id, key.secret_access_key = access_key, secret_key


def _quiet_handler() -> type[Any]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Quiet(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """Request logs are noise in test output."""

    return Quiet


_Quiet = _quiet_handler()
