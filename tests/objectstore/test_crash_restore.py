"""A crash of the object store loses nothing it acknowledged: the process is killed (SIGKILL)
in the middle of a workload, and the restarted store - directly, or through `appliance up`
replacing the stale stack - holds exactly the acknowledged objects; `down` still discards all."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from store_process import BUCKET, StoreProcess, start_store

from appliance.config import profile as profiles
from appliance.console import Console
from appliance.gates.registry import Entry, Registry, StoreUnreachable, s3_client
from appliance.runtime import process
from appliance.runtime.state import RunDir
from appliance.targets.interface import UpOptions

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
MODEL = "crash-model"
KILL_AFTER = 40  # acknowledged operations before the kill


@dataclass(frozen=True)
class Seen:
    """What a client can observe of one object (Last-Modified when it was read back)."""

    body: bytes
    etag: str
    content_type: str
    metadata: dict[str, str]
    tags: dict[str, str]
    last_modified: Any = None


def observe(s3: Any, key: str, with_time: bool = True) -> Seen | None:
    try:
        got = s3.get_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return None
        raise
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}
    return Seen(got["Body"].read(), got["ETag"], got["ContentType"], got["Metadata"], tags,
                got["LastModified"] if with_time else None)


class Workload:
    """Single-threaded writes of every kind the stack makes; records what was acknowledged."""

    def __init__(self, s3: Any, registry: Registry) -> None:
        self.s3, self.registry = s3, registry
        self.acknowledged: dict[str, Seen | None] = {}  # key -> state after its last acked op
        self.in_flight: tuple[str, Seen | None] | None = None  # the op the crash interrupted
        self.promoted: list[str] = []
        self.promoting: str | None = None
        self.count = 0

    def run(self, stop: threading.Event) -> None:
        try:
            for step in range(10_000):
                if stop.is_set():
                    return
                self.operation(step)
                self.count += 1
        except (BotoCoreError, ClientError, StoreUnreachable, OSError):
            return  # the store died under us: what was in flight may or may not have landed

    def operation(self, step: int) -> None:
        kind = step % 5
        if kind == 1:
            version = f"v{step}"
            self.promoting = version
            self.registry.promote(MODEL, Entry(version, f"s3://{BUCKET}/models/{version}"), None)
            self.promoted.append(version)
            self.promoting = None
            return
        key = f"crash/plain-{step % 7}"
        if kind == 2:
            key = f"crash/plain-{(step + 3) % 7}"
            self.in_flight = (key, None)
            self.s3.delete_object(Bucket=BUCKET, Key=key)
            self.acknowledged[key] = None
        elif kind == 3 and step == 3:
            key = "crash/multipart.bin"
            data = hashlib.shake_256(b"crash multipart").digest(5 * MiB + 100)
            self.in_flight = (key, Seen(data, "", "binary/octet-stream", {}, {}))
            upload = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            parts = []
            for number, chunk in enumerate((data[: 5 * MiB], data[5 * MiB:]), start=1):
                answer = self.s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload,
                                             PartNumber=number, Body=chunk)
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            self.s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                              MultipartUpload={"Parts": parts})
            self.acknowledged[key] = observe(self.s3, key)
        else:
            tagged = kind == 4
            key = "crash/tagged.json" if tagged else key
            data = f"step {step}\n".encode() * (step + 1)
            content_type = "application/json" if tagged else "text/plain"
            metadata = {"step": str(step)}
            tags = {"step": str(step)} if tagged else {}
            self.in_flight = (key, Seen(data, "", content_type, metadata, tags))
            answer = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType=content_type,
                                        Metadata=metadata, Tagging=f"step={step}" if tagged else "")
            acked = Seen(data, answer["ETag"], content_type, metadata, tags)
            self.acknowledged[key] = acked
            self.in_flight = (key, acked)
            self.acknowledged[key] = observe(self.s3, key)  # adds Last-Modified
        self.in_flight = None


def crash_in_the_middle(store: StoreProcess) -> Workload:
    workload = Workload(store.client(), Registry(client=store.client(), bucket=BUCKET))
    stop = threading.Event()
    runner = threading.Thread(target=workload.run, args=(stop,))
    runner.start()
    deadline = time.monotonic() + 300
    while workload.count < KILL_AFTER and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.is_alive(), "the workload ended before the crash"
    store.kill()
    runner.join(timeout=120)
    stop.set()
    assert workload.count >= KILL_AFTER
    return workload


def same(seen: Seen | None, expected: Seen | None) -> bool:
    """Equal, comparing ETag and Last-Modified only where they were observed."""
    if seen is None or expected is None:
        return seen is expected
    return (seen.body, seen.content_type, seen.metadata, seen.tags) == (
        expected.body, expected.content_type, expected.metadata, expected.tags
    ) and expected.etag in ("", seen.etag) and expected.last_modified in (None, seen.last_modified)


def check_restored(s3: Any, workload: Workload) -> None:
    in_flight_key = workload.in_flight[0] if workload.in_flight else None
    for key, expected in workload.acknowledged.items():
        seen = observe(s3, key)
        if key == in_flight_key:
            assert workload.in_flight is not None
            assert same(seen, expected) or same(seen, workload.in_flight[1]), key
        else:
            assert same(seen, expected), key
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crash/").get("Contents", [])}
    present = {key for key, state in workload.acknowledged.items() if state is not None}
    assert listed - {in_flight_key} == present - {in_flight_key}
    # Every acknowledged promotion is in the registry's history, in order, and the champion is
    # the last of them (or the one in flight, if its pointer write landed before the crash).
    history = [r.entry.version for r in Registry(client=s3, bucket=BUCKET).history(MODEL)]
    assert history[: len(workload.promoted)] == workload.promoted
    assert history[len(workload.promoted):] in ([], [workload.promoting])


def test_a_store_killed_mid_workload_restarts_with_every_acknowledged_object(tmp_path: Path) -> None:
    store = start_store(tmp_path / "run")
    try:
        workload = crash_in_the_middle(store)
    finally:
        store.stop()
    assert "crash/multipart.bin" in workload.acknowledged
    restarted = start_store(tmp_path / "run")
    try:
        s3 = restarted.client()
        check_restored(s3, workload)
        multipart = workload.acknowledged["crash/multipart.bin"]
        assert multipart is not None and multipart.etag.endswith('-2"')  # S3's multipart ETag
        held = s3.list_objects_v2(Bucket=BUCKET)["KeyCount"]
        assert f"({held} objects restored)" in restarted.log()
        # The restored store keeps working and keeps writing through.
        s3.put_object(Bucket=BUCKET, Key="crash/after", Body=b"after the restart")
    finally:
        restarted.kill()
    again = start_store(tmp_path / "run")
    try:
        assert observe(again.client(), "crash/after", with_time=False) == Seen(
            b"after the restart", f'"{hashlib.md5(b"after the restart").hexdigest()}"',
            "binary/octet-stream", {}, {})
    finally:
        again.stop()
    objects = tmp_path / "run" / "objects"
    assert oct(objects.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in objects.glob("*/*")} == {"0o600"}


def test_appliance_up_after_a_crash_restores_the_stack_and_down_discards_it() -> None:
    from appliance.targets.local.target import OBJECT_STORE, LocalTarget

    target, console, name = LocalTarget(), Console(quiet=True), f"crash-{uuid.uuid4().hex[:6]}"
    profile = profiles.load("minimal")
    target.up(name, profile, UpOptions(), console)
    try:
        stack = target.stack(name)
        workload = Workload(s3_client(stack.object_store), Registry(stack.object_store))
        stop = threading.Event()
        runner = threading.Thread(target=workload.run, args=(stop,))
        runner.start()
        while workload.count < 15 and runner.is_alive():
            time.sleep(0.01)
        state = RunDir(name).load()
        assert state is not None
        pid = state.components[OBJECT_STORE].pid
        os.kill(pid, signal.SIGKILL)  # the object store crashes mid-workload
        runner.join(timeout=120)
        stop.set()
        assert process.wait_until(lambda: not process.is_alive(pid), 30)

        target.up(name, profile, UpOptions(), console)  # replaces the stale stack and keeps its objects
        status = target.status(name)
        assert status is not None and status.healthy
        check_restored(s3_client(target.stack(name).object_store), workload)
    finally:
        target.down(name, console)
    assert not RunDir(name).exists()
    target.up(name, profile, UpOptions(), console)
    try:
        s3 = s3_client(target.stack(name).object_store)
        assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0  # `down` discarded every object
    finally:
        target.down(name, console)
