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
from minio.crypto import decrypt

from appliance.errors import BadInput
from appliance.objectstore import ObjectStore
from appliance.targets.cluster import object_store as store
from appliance.targets.cluster.settings import ClusterSettings

SETTINGS = ClusterSettings(Path("/run/kubeconfig"), "kind-s", ports={"object-store": 19000,
                                                                     "pipelines-api": 18888})
ROOT = {store.ACCESS_KEY: "rootuser", store.SECRET_KEY: "rootsecret"}
SECRETS = {**ROOT, "object-store-pipelines-secret-key": "p1pelines",
           "object-store-tuning-secret-key": "tun1ng", "object-store-serving-secret-key": "s3rving"}


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


class FakeAdmin:
    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_on = fail_on

    def policy_add(self, policy_name: str, policy_file: Any = None,
                   policy: dict[str, Any] | None = None) -> str:
        self.calls.append(("policy_add", (policy_name, policy)))
        return ""

    def user_add(self, access_key: str, secret_key: str) -> str:
        self.calls.append(("user_add", (access_key, secret_key)))
        if access_key == self.fail_on:
            raise RuntimeError("XMinioAdminNotImplemented: not implemented\ndetails")
        return ""

    def policy_set(self, policy_name: str, user: str | None = None, group: str | None = None) -> str:
        self.calls.append(("policy_set", (policy_name, user)))
        return ""


def test_each_purpose_gets_its_user_and_policy_idempotently() -> None:
    admin = FakeAdmin()
    assert store.ensure_workload_users(admin, SECRETS) == [
        "appliance-pipelines", "appliance-tuning", "appliance-serving"]
    expected = []
    for user, secret in zip(store.WORKLOAD_USERS, ("p1pelines", "tun1ng", "s3rving"), strict=True):
        expected += [("policy_add", (user.policy_name, user.policy())),
                     ("user_add", (user.access_key, secret)),
                     ("policy_set", (user.policy_name, user.access_key))]
    assert admin.calls == expected
    store.ensure_workload_users(admin, SECRETS)
    assert admin.calls == expected * 2  # MinIO's calls overwrite: running again changes nothing


def test_missing_user_secrets_and_admin_failures_are_clear_and_keep_the_secret_out() -> None:
    with pytest.raises(BadInput) as missing:
        store.ensure_workload_users(FakeAdmin(), ROOT)
    assert missing.value.what == ("the stack's credentials lack object-store-pipelines-secret-key, "
                                  "object-store-tuning-secret-key, object-store-serving-secret-key")
    with pytest.raises(store.AdminFailed) as failed:
        store.ensure_workload_users(FakeAdmin(fail_on="appliance-tuning"), SECRETS)
    assert failed.value.exit_code == 4
    assert failed.value.render() == (
        "MinIO refused to set up user appliance-tuning: RuntimeError: XMinioAdminNotImplemented: not "
        "implemented (fix: check that MinIO is ready ('appliance status'), then 'appliance up' again)")
    assert "tun1ng" not in failed.value.render()


class _Body(io.BytesIO):
    def release_conn(self) -> None:
        return None


@pytest.mark.integration
def test_the_real_admin_client_speaks_minios_admin_api() -> None:
    """minio.MinioAdmin over HTTP to a fake admin endpoint: the paths, queries and payloads MinIO's
    server receives (the new user's secret encrypted with the root secret, as MinIO requires)."""
    seen: list[tuple[str, str, dict[str, list[str]], Any]] = []

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
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        settings = ClusterSettings(Path("/k"), "c", ports={"object-store": port})
        admin = store.admin_client(store.object_store(settings, ROOT))
        serving = store.WORKLOAD_USERS[2]
        store.ensure_workload_users(admin, SECRETS, (serving,))
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [
        ("PUT", "/minio/admin/v3/add-canned-policy", {"name": ["appliance-serving-readonly"]},
         serving.policy()),
        ("PUT", "/minio/admin/v3/add-user", {"accessKey": ["appliance-serving"]},
         {"status": "enabled", "secretKey": "s3rving"}),
        ("PUT", "/minio/admin/v3/set-user-or-group-policy",
         {"userOrGroup": ["appliance-serving"], "isGroup": ["false"],
          "policyName": ["appliance-serving-readonly"]},
         None),
    ]
