"""MinIO's S3 API for the integration tier: moto's S3 server in this process, wrapped as the local
target wraps it (appliance/targets/local/s3_server.py: SigV4 verified by moto's IAM emulation,
S3's refusals for unsigned and non-SigV4 requests, S3's preconditions and atomic conditional
writes), whose one user is MinIO's root user: the access and secret key of the cluster's Secret
object-store/minio-credentials, as the minio Deployment is given them (MINIO_ROOT_USER/PASSWORD).

moto keeps its state in process-global backends: `close()` resets the S3 and IAM backends and
restores moto's authentication setting, so later tests in the process see a clean moto.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from fake_cluster import FakeCluster

from appliance.targets.cluster.client import ObjRef
from appliance.targets.local import s3_server

ROOT_USER = "minio-root"
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


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
        for old in list(iam.get_user(ROOT_USER).access_keys):
            iam.delete_access_key(old.access_key_id, ROOT_USER)
        key = iam.create_access_key(ROOT_USER)
        # moto makes up its keys; MinIO's root user is the one it is configured with.
        key.access_key_id, key.secret_access_key = access_key, secret_key

    def root_user_from(self, cluster: FakeCluster) -> None:
        """The root user the cluster's minio Deployment gets from its Secret."""
        secret = cluster.get(ObjRef("v1", "Secret", "minio-credentials", "object-store"))
        if secret is None:
            raise AssertionError("Secret object-store/minio-credentials is not in the cluster")
        data = secret.get("data") or {}
        self.root_user(base64.b64decode(data["rootUser"]).decode(),
                       base64.b64decode(data["rootPassword"]).decode())

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


def _quiet_handler() -> type[Any]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Quiet(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """Request logs are noise in test output."""

    return Quiet


_Quiet = _quiet_handler()
