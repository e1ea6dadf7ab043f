"""The bring-up's object-store access (bringup.render, apply_workload_access, ensure_users): each
workload purpose gets its own MinIO user, generated with the stack's credentials and kept across a
repeated `up`, created through the admin API once the forward is up (retried through the clock
while MinIO is not ready), and its keys reach exactly the Secret that purpose reads; the root
credentials never reach a workload namespace. FakeCluster and FakeMinioAdmin at the seams."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cluster_objects import namespace
from fake_cluster import FakeCluster
from fake_minio import FakeMinioAdmin
from kind_machine import STACK, object_store_only

from appliance.console import Console
from appliance.errors import BadInput
from appliance.runtime.state import RunDir
from appliance.targets.cluster import bringup, workloads
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.object_store import ACCESS_KEY, SECRET_KEY, USERS, WORKLOAD_USERS, AdminFailed
from appliance.targets.cluster.settings import ClusterSettings, Service
from appliance.targets.cluster.wait import TimedOut
from appliance.targets.interface import UpOptions

Obj = dict[str, Any]
WORKLOADS = "appliance-workloads"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))


def generated_secret(name: str, ns: str, keys: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {
        "name": name, "namespace": ns, "annotations": {"appliance.dev/generated-keys": keys}}}


def service(name: str, ns: str, port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": port}]}}


# The parts of a rendered bundle these actions read: MinIO with its generated root user, KFP with
# its own Secret on the same generated pair, and the workload namespace.
MINIO = [namespace("object-store"), service("minio", "object-store", 9000),
         generated_secret("minio-credentials", "object-store",
                          "rootPassword=object-store-secret-key,rootUser=object-store-access-key")]
KFP = [namespace("kubeflow"), service("ml-pipeline", "kubeflow", 8888),
       generated_secret("mlpipeline-minio-artifact", "kubeflow",
                        "accesskey=object-store-access-key,secretkey=object-store-secret-key")]
WORKLOAD_NAMESPACE = [namespace(WORKLOADS)]


@dataclass
class Bundle:
    objects: list[Obj]


class MinioBehindForward:
    """The Forwarder: MinIO starts (with the root user of its Secret) when forwarding starts."""

    def __init__(self, cluster: FakeCluster, minio: FakeMinioAdmin) -> None:
        self.cluster, self.minio = cluster, minio

    def start(self, run_dir: Path, settings: ClusterSettings, services: Mapping[str, Service],
              ports: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        self.minio.start_from(self.cluster)
        return 7, {name: 30000 + index for index, name in enumerate(sorted(services))}

    def stop(self, run_dir: Path, pid: int) -> None:
        return None

    def alive(self, run_dir: Path, pid: int) -> bool:
        return True


def up_context(cluster: FakeCluster, minio: FakeMinioAdmin, objects: list[Obj], tmp_path: Path,
               err: io.StringIO | None = None, timeout: float | None = None) -> bringup.ClusterUp:
    run_dir = RunDir(STACK)
    run_dir.create()
    return bringup.ClusterUp(
        STACK, object_store_only(tmp_path), UpOptions(timeout=timeout), run_dir,
        Console(err=err) if err is not None else Console(quiet=True),
        ClusterSettings(run_dir.path / "kubeconfig", "kind-appliance-dev"), lambda settings: cluster,
        cluster.clock, MinioBehindForward(cluster, minio), lambda profile: Bundle(objects),
        started=cluster.clock.monotonic(), admin=minio.client)


def apply_bundle(ctx: bringup.ClusterUp) -> None:
    """render, then what the bring-up applies before these actions (the bundle itself)."""
    bringup.render(ctx)
    ctx.api.apply([o for o in ctx.objects if o["kind"] == "Namespace"])
    ctx.api.apply([o for o in ctx.objects if o["kind"] != "Namespace"])


def decoded(secret: Obj) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def secrets_in(cluster: FakeCluster, ns: str) -> dict[str, dict[str, str]]:
    return {s["metadata"]["name"]: decoded(s) for s in cluster.list("v1", "Secret", ns)}


def test_user_secrets_are_generated_with_the_stack_credentials_and_kept(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    ctx = up_context(cluster, minio, MINIO + KFP, tmp_path)
    bringup.render(ctx)
    stored = json.loads(ctx.run_dir.credentials_file.read_text())
    assert os.stat(ctx.run_dir.credentials_file).st_mode & 0o777 == 0o600
    assert stored == ctx.credentials
    assert sorted(stored) == sorted([ACCESS_KEY, SECRET_KEY, *(u.secret_key_id for u in WORKLOAD_USERS)])
    secrets = [stored[u.secret_key_id] for u in WORKLOAD_USERS]
    assert all(len(s) == 32 and s.isalnum() for s in secrets)  # install.random_token; MinIO takes 8-40
    assert len({*secrets, stored[SECRET_KEY]}) == 4  # every user has a secret of its own
    # A repeated up renders again with credentials.json in place: nothing is regenerated.
    again = up_context(cluster, minio, MINIO + KFP, tmp_path)
    bringup.render(again)
    assert again.credentials == stored


def test_each_workload_gets_its_users_keys_and_never_the_root_credentials(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    ctx = up_context(cluster, minio, MINIO + KFP + WORKLOAD_NAMESPACE, tmp_path)
    apply_bundle(ctx)
    bringup.apply_workload_access(ctx)
    creds = ctx.credentials
    workloads = secrets_in(cluster, WORKLOADS)
    assert workloads == {
        "appliance-s3-tuning": {"AWS_ACCESS_KEY_ID": "appliance-tuning",
                                "AWS_SECRET_ACCESS_KEY": creds["object-store-tuning-secret-key"]},
        "appliance-s3-serving": {"AWS_ACCESS_KEY_ID": "appliance-serving",
                                 "AWS_SECRET_ACCESS_KEY": creds["object-store-serving-secret-key"]},
    }
    kubeflow = secrets_in(cluster, "kubeflow")
    assert kubeflow["appliance-s3-pipelines"] == {
        "accesskey": "appliance-pipelines", "secretkey": creds["object-store-pipelines-secret-key"]}
    # KFP's own Secret keeps the root pair (its API server needs it before any user exists).
    assert kubeflow["mlpipeline-minio-artifact"] == {"accesskey": creds[ACCESS_KEY],
                                                     "secretkey": creds[SECRET_KEY]}
    root = {creds[ACCESS_KEY], creds[SECRET_KEY]}
    assert not root & {value for data in workloads.values() for value in data.values()}
    assert not root & set(kubeflow["appliance-s3-pipelines"].values())
    # KServe finds only the read-only Secret through the predictors' ServiceAccount.
    [account] = cluster.list("v1", "ServiceAccount", WORKLOADS)
    assert (account["metadata"]["name"], account["secrets"]) == (
        "appliance-models", [{"name": "appliance-s3-serving"}])
    serving = cluster.get(ObjRef("v1", "Secret", "appliance-s3-serving", WORKLOADS))
    assert serving is not None
    assert serving["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"] == \
        "minio.object-store.svc.cluster.local:9000"
    assert serving["metadata"]["labels"]["appliance.dev/stack"] == STACK
    assert "stringData" not in serving and serving["type"] == "Opaque"


def test_a_profile_without_those_namespaces_gets_no_workload_secret(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    ctx = up_context(cluster, minio, list(MINIO), tmp_path)
    apply_bundle(ctx)
    before = len(ctx.objects)
    bringup.apply_workload_access(ctx)
    assert len(ctx.objects) == before
    assert [s["metadata"]["name"] for s in cluster.list("v1", "Secret")] == ["minio-credentials"]


def test_users_are_created_after_the_forward_and_before_the_bucket() -> None:
    names = [action.name for action in bringup.stack_actions()]
    forwards, users, bucket = (names.index("port-forwards on 127.0.0.1"),
                               names.index("object store users: pipelines, tuning, serving"),
                               names.index("bucket mlpipeline"))
    assert forwards < users < bucket == users + 1


def test_users_and_policies_are_created_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    ctx = up_context(cluster, minio, MINIO + KFP + WORKLOAD_NAMESPACE, tmp_path)
    apply_bundle(ctx)
    bringup.start_forwards(ctx)
    bringup.ensure_users(ctx)
    state = (dict(minio.users), dict(minio.mapping), json.dumps(minio.policies, sort_keys=True))
    assert minio.users == {u.access_key: ctx.credentials[u.secret_key_id] for u in WORKLOAD_USERS}
    assert minio.mapping == {"appliance-pipelines": "appliance-pipelines-readwrite",
                             "appliance-tuning": "appliance-tuning-readwrite",
                             "appliance-serving": "appliance-serving-readonly"}
    assert minio.policies == {u.policy_name: u.policy() for u in WORKLOAD_USERS}
    serving = minio.policies["appliance-serving-readonly"]["Statement"]
    assert [s["Action"] for s in serving] == [
        ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], ["s3:GetObject"]]
    first = list(minio.calls)
    assert first == [call for u in WORKLOAD_USERS for call in (
        ("add-canned-policy", u.policy_name), ("add-user", u.access_key),
        ("set-user-or-group-policy", f"{u.access_key}={u.policy_name}"))]
    # A repeated up (same credentials.json) makes the same calls and leaves the same state.
    again = up_context(cluster, minio, MINIO + KFP + WORKLOAD_NAMESPACE, tmp_path)
    bringup.render(again)
    bringup.start_forwards(again)
    bringup.ensure_users(again)
    assert minio.calls == first * 2
    assert (dict(minio.users), dict(minio.mapping), json.dumps(minio.policies, sort_keys=True)) == state


def test_minio_not_ready_yet_is_waited_out_through_the_clock(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin(not_ready=3)
    err = io.StringIO()
    ctx = up_context(cluster, minio, list(MINIO), tmp_path, err=err)
    apply_bundle(ctx)
    bringup.start_forwards(ctx)
    slept = len(cluster.clock.slept)
    bringup.ensure_users(ctx)
    # Three answers 503 XMinioServerNotInitialized, each on the first call of an attempt, 2 s apart.
    assert cluster.clock.slept[slept:] == [2.0, 2.0, 2.0]
    assert minio.calls[:3] == [("add-canned-policy", "appliance-pipelines-readwrite")] * 3
    assert sorted(minio.mapping) == ["appliance-pipelines", "appliance-serving", "appliance-tuning"]
    assert "XMinioServerNotInitialized" in err.getvalue()


def test_minio_never_answering_times_out_within_the_up_budget(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    ctx = up_context(cluster, minio, list(MINIO), tmp_path, timeout=30.0)
    apply_bundle(ctx)
    ctx.settings = ClusterSettings(**{**ctx.settings.__dict__, "ports": {"object-store": 30000}})
    with pytest.raises(TimedOut) as timed_out:  # the forward is there, MinIO never started
        bringup.ensure_users(ctx)
    assert timed_out.value.what == "timed out after 30s waiting for MinIO's admin API"
    assert timed_out.value.waiting == (
        "ProtocolError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")
    assert timed_out.value.exit_code == 4


def test_a_refusal_fails_at_once_naming_the_user_and_never_the_secret(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    err = io.StringIO()
    ctx = up_context(cluster, minio, list(MINIO), tmp_path, err=err)
    apply_bundle(ctx)
    bringup.start_forwards(ctx)
    minio.start("someone-else", "not-the-root-secret")  # MinIO runs with another root user
    slept = len(cluster.clock.slept)
    with pytest.raises(AdminFailed) as refused:
        bringup.ensure_users(ctx)
    assert cluster.clock.slept[slept:] == [] and len(minio.calls) == 1
    assert refused.value.exit_code == 4
    assert refused.value.what == "MinIO refused to set up user appliance-pipelines"
    assert refused.value.why.startswith("MinioAdminException: admin request failed; Status: 403, Body: ")
    assert "InvalidAccessKeyId" in refused.value.why
    shown = refused.value.render() + err.getvalue()
    assert not [v for v in ctx.credentials.values() if v in shown]


def test_credentials_lacking_a_user_secret_are_bad_input(tmp_path: Path) -> None:
    cluster, minio = FakeCluster(), FakeMinioAdmin()
    ctx = up_context(cluster, minio, MINIO + WORKLOAD_NAMESPACE, tmp_path)
    apply_bundle(ctx)
    del ctx.credentials[USERS["serving"].secret_key_id]
    with pytest.raises(BadInput, match="the stack's credentials lack object-store-serving-secret-key"):
        bringup.apply_workload_access(ctx)


def test_the_docs_name_each_users_policy_and_secret() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "object-store.md"
    rows = re.findall(r"^\| `(appliance-\w+)` \| `([\w-]+)` \| .+ \| `([\w-]+)` \(`([\w-]+)`\) \|$",
                      doc.read_text(), re.M)
    secrets = {"pipelines": (workloads.PIPELINE_STEP_SECRET, "kubeflow"),
               "tuning": (workloads.TUNING_SECRET, WORKLOADS),
               "serving": (workloads.SERVING_SECRET, WORKLOADS)}
    assert rows == [(u.access_key, u.policy_name, *secrets[u.purpose]) for u in WORKLOAD_USERS]

