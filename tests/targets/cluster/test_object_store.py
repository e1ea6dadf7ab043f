"""The cluster stack's object store (MinIO through the forward, root credentials for the appliance)
and the per-purpose MinIO users workloads get instead, through MinIO's admin API."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fake_minio import FakeMinioAdmin
from minio.crypto import decrypt
from minio.error import MinioAdminException

from appliance.errors import BadInput
from appliance.objectstore import ObjectStore
from appliance.runtime.process import free_port
from appliance.targets.cluster import object_store as store
from appliance.targets.cluster.settings import ClusterSettings

SETTINGS = ClusterSettings(Path("/run/kubeconfig"), "kind-s", ports={"object-store": 19000,
                                                                     "pipelines-api": 18888})
ROOT = {store.ACCESS_KEY: "rootuser", store.SECRET_KEY: "rootsecret"}
SECRETS = {**ROOT, "object-store-pipelines-secret-key": "p1pelines1",
           "object-store-tuning-secret-key": "tun1ng-key", "object-store-serving-secret-key": "s3rving-key"}


def test_the_store_is_minio_through_the_forward_with_the_root_credentials() -> None:
    found = store.object_store(SETTINGS, ROOT)
    assert found == ObjectStore("http://127.0.0.1:19000", "rootuser", "rootsecret")
    # `appliance env` prints exactly what it prints on local.
    assert found.env() == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:19000", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:19000",
        "AWS_ACCESS_KEY_ID": "rootuser", "AWS_SECRET_ACCESS_KEY": "rootsecret",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    assert "rootsecret" not in repr(found)


def test_missing_credentials_or_forward_are_bad_input() -> None:
    with pytest.raises(BadInput) as missing:
        store.object_store(SETTINGS, {store.ACCESS_KEY: "a"})
    assert missing.value.render() == (
        "the stack's credentials lack object-store-secret-key: credentials.json in the run dir is "
        "incomplete (fix: run 'appliance up' again for this stack (it keeps existing values))")
    with pytest.raises(BadInput, match="no local forward for object-store"):
        store.object_store(ClusterSettings(Path("/k"), "c"), ROOT)


def test_workload_policies_are_confined_to_the_bucket() -> None:
    pipelines, tuning, serving = store.WORKLOAD_USERS
    assert (pipelines.access_key, pipelines.secret_key_id, pipelines.policy_name) == (
        "appliance-pipelines", "object-store-pipelines-secret-key", "appliance-pipelines-readwrite")
    assert serving.policy() == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket",
                                       "s3:ListBucketMultipartUploads"],
         "Resource": ["arn:aws:s3:::mlpipeline"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::mlpipeline/*"]},
    ]}
    assert tuning.policy()["Statement"][1]["Action"] == [
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts"]


def started(not_ready: int = 0) -> tuple[FakeMinioAdmin, Any]:
    """A started MinIO (root user rootuser/rootsecret) and the admin client the root store gets."""
    minio = FakeMinioAdmin(not_ready=not_ready)
    minio.start("rootuser", "rootsecret")
    return minio, minio.client(store.object_store(SETTINGS, ROOT))


def test_each_purpose_gets_its_user_and_policy_idempotently() -> None:
    minio, admin = started()
    assert store.ensure_workload_users(admin, SECRETS) == [
        "appliance-pipelines", "appliance-tuning", "appliance-serving"]
    assert minio.users == {"appliance-pipelines": "p1pelines1", "appliance-tuning": "tun1ng-key",
                           "appliance-serving": "s3rving-key"}
    assert minio.mapping == {u.access_key: u.policy_name for u in store.WORKLOAD_USERS}
    assert minio.policies == {u.policy_name: u.policy() for u in store.WORKLOAD_USERS}
    calls = list(minio.calls)
    store.ensure_workload_users(admin, SECRETS)
    # MinIO's calls overwrite and set-user-or-group-policy replaces: running again changes nothing.
    assert minio.calls == calls * 2
    assert minio.mapping == {u.access_key: u.policy_name for u in store.WORKLOAD_USERS}


def test_missing_user_secrets_and_admin_refusals_are_clear_and_keep_the_secret_out() -> None:
    with pytest.raises(BadInput) as missing:
        store.ensure_workload_users(started()[1], ROOT)
    assert missing.value.what == ("the stack's credentials lack object-store-pipelines-secret-key, "
                                  "object-store-tuning-secret-key, object-store-serving-secret-key")
    short = {**SECRETS, "object-store-tuning-secret-key": "short"}  # MinIO wants 8-40 characters
    with pytest.raises(store.AdminFailed) as failed:
        store.ensure_workload_users(started()[1], short)
    assert not isinstance(failed.value, store.AdminNotReady)
    assert failed.value.exit_code == 4
    assert failed.value.render() == (
        "MinIO refused to set up user appliance-tuning: MinioAdminException: admin request failed; "
        'Status: 400, Body: {"Code": "XMinioAdminInvalidSecretKey", "Message": "The secret key is '
        "invalid.\"} (fix: check that MinIO is ready ('appliance status'), then 'appliance up' again)")
    assert "short" not in failed.value.render()


def test_minio_starting_or_unreachable_is_not_ready_and_anything_else_fails() -> None:
    minio, admin = started(not_ready=1)
    with pytest.raises(store.AdminNotReady) as starting:
        store.ensure_workload_users(admin, SECRETS)
    assert starting.value.what == "MinIO's admin API is not ready to set up user appliance-pipelines"
    assert "Status: 503" in starting.value.why and "XMinioServerNotInitialized" in starting.value.why
    assert store.ensure_workload_users(admin, SECRETS)  # the next attempt gets through
    stopped = FakeMinioAdmin()  # nothing behind the forward yet
    with pytest.raises(store.AdminNotReady) as unreachable:
        store.ensure_workload_users(stopped.client(store.object_store(SETTINGS, ROOT)), SECRETS)
    assert unreachable.value.why.startswith("ProtocolError: ('Connection aborted.'")
    minio, _ = started()
    wrong = minio.client(store.object_store(SETTINGS, {**ROOT, store.SECRET_KEY: "wrong"}))
    with pytest.raises(store.AdminFailed) as refused:
        store.ensure_workload_users(wrong, SECRETS)
    assert not isinstance(refused.value, store.AdminNotReady)
    assert "Status: 403" in refused.value.why and "SignatureDoesNotMatch" in refused.value.why


def test_the_fake_refuses_what_minio_refuses() -> None:
    """FakeMinioAdmin is the seam every bring-up test uses: it answers as MinIO does."""
    minio, admin = started()
    serving = store.USERS["serving"]

    def code(call: Any) -> str:
        with pytest.raises(MinioAdminException) as refused:
            call()
        body = json.loads(str(refused.value).split("Body: ", 1)[1])
        return f"{refused.value._code} {body['Code']}"

    assert code(lambda: admin.policy_set(serving.policy_name, user="appliance-serving")) == \
        "404 XMinioAdminNoSuchUser"
    admin.user_add("appliance-serving", "s3rving-key")
    assert code(lambda: admin.policy_set(serving.policy_name, user="appliance-serving")) == \
        "404 XMinioAdminNoSuchPolicy"
    assert code(lambda: admin.user_add("rootuser", "another-secret")) == \
        "400 XMinioAdminAddUserInvalidArgument"
    assert code(lambda: admin.policy_add("p", policy={"Statement": [{"Effect": "Allow"}]})) == \
        "400 XMinioPolicyInvalidVersion"
    assert code(lambda: admin.policy_add("a,b", policy=serving.policy())) == \
        "400 XMinioAdminResourceInvalidArgument"
    admin.policy_add(serving.policy_name, policy=serving.policy())
    admin.policy_set(serving.policy_name, user="appliance-serving")
    admin.user_add("appliance-serving", "another-key")  # a new secret keeps the mapping
    assert (minio.users, minio.mapping) == ({"appliance-serving": "another-key"},
                                            {"appliance-serving": serving.policy_name})
    assert not [subject for _, subject in minio.calls if "s3rving-key" in subject or "another-key" in subject]


def test_workload_secrets_are_generated_once_and_kept() -> None:
    tokens = iter(["first-token", "second-token", "third-token", "unused"])
    made = store.with_workload_secrets(ROOT, lambda: next(tokens))
    assert made == {**ROOT, "object-store-pipelines-secret-key": "first-token",
                    "object-store-tuning-secret-key": "second-token",
                    "object-store-serving-secret-key": "third-token"}
    assert store.with_workload_secrets(made, lambda: "fresh") == made
    assert store.USERS["tuning"].keys(made) == ("appliance-tuning", "second-token")
    with pytest.raises(BadInput, match="lack object-store-serving-secret-key"):
        store.USERS["serving"].keys(ROOT)


class _Body(io.BytesIO):
    def release_conn(self) -> None:
        return None


@pytest.mark.integration
def test_the_real_admin_client_speaks_minios_admin_api() -> None:
    """minio.MinioAdmin over HTTP to a fake admin endpoint: the paths, queries and payloads MinIO's
    server receives (the new user's secret encrypted with the root secret, as MinIO requires); a
    503 while MinIO starts comes back at once as not ready (no retries inside the client), and so
    does a port nothing listens on."""
    seen: list[tuple[str, str, dict[str, list[str]], Any]] = []
    starting = [True]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_PUT(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if url.path.endswith("/add-user"):
                body: Any = json.loads(decrypt(_Body(raw), "rootsecret"))  # type: ignore[arg-type]
            else:
                body = json.loads(raw) if raw else None
            assert self.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=rootuser/")
            seen.append(("PUT", url.path, parse_qs(url.query), body))
            if starting[0]:
                starting[0] = False
                answer = json.dumps({"Code": "XMinioServerNotInitialized",
                                     "Message": "Server not initialized yet, please try again."}).encode()
                self.send_response(503)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    serving = store.WORKLOAD_USERS[2]
    try:
        port = server.server_address[1]
        settings = ClusterSettings(Path("/k"), "c", ports={"object-store": port})
        admin = store.admin_client(store.object_store(settings, ROOT))
        with pytest.raises(store.AdminNotReady) as not_ready:
            store.ensure_workload_users(admin, SECRETS, (serving,))
        assert "Status: 503" in not_ready.value.why
        assert len(seen) == 1  # urllib3 did not retry the 503 behind the bring-up's back
        seen.clear()
        store.ensure_workload_users(admin, SECRETS, (serving,))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [
        ("PUT", "/minio/admin/v3/add-canned-policy", {"name": ["appliance-serving-readonly"]},
         serving.policy()),
        ("PUT", "/minio/admin/v3/add-user", {"accessKey": ["appliance-serving"]},
         {"status": "enabled", "secretKey": "s3rving-key"}),
        ("PUT", "/minio/admin/v3/set-user-or-group-policy",
         {"userOrGroup": ["appliance-serving"], "isGroup": ["false"],
          "policyName": ["appliance-serving-readonly"]},
         None),
    ]
    closed = ClusterSettings(Path("/k"), "c", ports={"object-store": free_port()})
    with pytest.raises(store.AdminNotReady) as refused:
        store.ensure_workload_users(store.admin_client(store.object_store(closed, ROOT)), SECRETS,
                                    (serving,))
    assert refused.value.why.startswith("NewConnectionError: ")
