"""The object store's files on disk: atomic, durable, exact round trips, corruption named.

ObjectFiles is tested on a temporary directory; Mirror against moto's in-process S3 backend
(no server, no port): what it saves from one backend comes back identical in a fresh one.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.targets.local import s3_persistence
from appliance.targets.local.s3_persistence import (
    DIRECTORY,
    CorruptStore,
    Mirror,
    ObjectFiles,
    StoredObject,
    discard_all_but_objects,
)

ATTRIBUTES = {"etag": "5d41402abc4b2a76b9719d911017c592", "last_modified": "2024-05-01T12:00:00.750000",
              "metadata": {"content-type": "application/json"}}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored(key: str, body: bytes, bucket: str = "mlpipeline") -> StoredObject:
    return StoredObject(bucket, key, body, dict(ATTRIBUTES))


@pytest.fixture
def files(tmp_path: Path) -> ObjectFiles:
    found = ObjectFiles(tmp_path / DIRECTORY)
    found.put_bucket("mlpipeline", "us-east-1")
    return found


def object_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.object"))


def test_objects_round_trip_through_a_reopen_with_private_permissions(files: ObjectFiles) -> None:
    odd = "dir/ünïcode key\nwith newline and \\ slash"
    files.put(stored("registry/m/champion.json", b'{"revision": 1}\n'))
    files.put(stored(odd, bytes(range(256))))
    files.put(stored("empty", b""))

    again = ObjectFiles(files.root)
    assert again.buckets() == {"mlpipeline": "us-east-1"}
    assert again.keys("mlpipeline") == {"registry/m/champion.json", odd, "empty"}
    assert {(o.key, o.body) for o in again.objects()} == {
        ("registry/m/champion.json", b'{"revision": 1}\n'), (odd, bytes(range(256))), ("empty", b"")}
    assert all(o.attributes == ATTRIBUTES for o in again.objects())
    assert mode(files.root) == 0o700
    assert {mode(p) for p in files.root.iterdir()} == {0o700}
    assert {mode(p) for p in files.root.glob("*/*")} == {0o600}


def test_overwrite_delete_and_bucket_removal_survive_a_reopen(files: ObjectFiles) -> None:
    files.put(stored("a", b"one"))
    files.put(stored("a", b"two"))
    files.put(stored("b", b"gone soon"))
    files.delete("mlpipeline", "b")
    files.delete("mlpipeline", "never-there")  # a no-op
    files.put_bucket("scratch", "eu-west-1")
    files.put(stored("x", b"x", bucket="scratch"))
    files.delete_bucket("scratch")

    again = ObjectFiles(files.root)
    assert [(o.key, o.body) for o in again.objects()] == [("a", b"two")]
    assert again.buckets() == {"mlpipeline": "us-east-1"}
    assert len(list(files.root.iterdir())) == 1


def test_a_write_interrupted_by_a_crash_leaves_the_previous_object(files: ObjectFiles) -> None:
    files.put(stored("a", b"acknowledged"))
    # What a crash between creating and renaming the temporary file leaves behind.
    bucket_dir = object_files(files.root)[0].parent
    (bucket_dir / ".tmp-crashed").write_bytes(b'{"format": 1, "key": "a"')

    again = ObjectFiles(files.root)
    assert [(o.key, o.body) for o in again.objects()] == [("a", b"acknowledged")]
    assert not list(bucket_dir.glob(".tmp-*"))


def test_a_failed_write_changes_nothing(files: ObjectFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    files.put(stored("a", b"old"))

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(s3_persistence.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        files.put(stored("a", b"new"))
    monkeypatch.undo()
    assert [o.body for o in files.objects()] == [b"old"]
    assert not list(files.root.glob("*/.tmp-*"))


def test_writes_are_fsynced_before_they_are_renamed(files: ObjectFiles,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(s3_persistence.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(s3_persistence.os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b)))
    files.put(stored("a", b"durable"))
    # The file's data, then the rename, then the directory entry.
    assert events == ["fsync", "replace", "fsync"]


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda p: p.write_bytes(p.read_bytes()[:-3]), "holds 4 bytes, its header says 7"),
    (lambda p: p.write_bytes(b"not json\nbody"), "not an object of this bucket"),
    (lambda p: p.write_bytes(b"no header line"), "not an object of this bucket"),
    (lambda p: p.rename(p.with_name("0" * 64 + ".object")), "does not match the key"),
    (lambda p: (p.parent / "bucket.json").write_text("{}"), "not an object store record"),
    (lambda p: (p.parent / "bucket.json").unlink(), "unreadable"),
])
def test_a_damaged_file_is_named_instead_of_silently_dropped(files: ObjectFiles, damage: Any,
                                                              reason: str) -> None:
    files.put(stored("a", b"content"))
    damage(object_files(files.root)[0])
    with pytest.raises(CorruptStore, match=reason) as refused:
        ObjectFiles(files.root)
    assert str(files.root) in str(refused.value)
    assert "appliance down" in str(refused.value)


def test_discard_all_but_objects_keeps_only_stored_objects(tmp_path: Path) -> None:
    run_dir = tmp_path / "stack"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "state.json").write_text("{}")
    (run_dir / "credentials.json").write_text("{}")
    files = ObjectFiles(run_dir / DIRECTORY)
    files.put_bucket("mlpipeline", "us-east-1")
    files.put(stored("a", b"kept"))

    discard_all_but_objects(run_dir)
    assert [p.name for p in run_dir.iterdir()] == [DIRECTORY]
    assert [o.body for o in ObjectFiles(run_dir / DIRECTORY).objects()] == [b"kept"]

    files.delete("mlpipeline", "a")
    discard_all_but_objects(run_dir)  # nothing worth keeping: the whole run dir goes
    assert not run_dir.exists()


# -- Mirror: moto's backend <-> files ----------------------------------------------------------


@pytest.fixture
def backends() -> Iterator[tuple[Any, Any]]:
    """Two empty moto S3 backends (accounts of their own); bucket names are global in moto."""
    from moto.s3.models import s3_backends

    first, second = (s3_backends[str(uuid.uuid4().int)[:12]]["aws"] for _ in range(2))
    yield first, second
    first.reset()
    second.reset()


def state(backend: Any, bucket: str) -> dict[str, dict[str, Any]]:
    """Everything a client can observe of each object."""
    found = {}
    for name, key in backend.get_bucket(bucket).keys.items():
        found[name] = {
            "body": key.value, "etag": key.etag, "last_modified": key.last_modified,
            "metadata": dict(key.metadata), "size": key.size, "storage_class": key.storage_class,
            "checksum": (key.checksum_algorithm, key.checksum_value, key.checksum_type),
            "tags": backend.tagger.get_tag_dict_for_resource(key.arn),
            "response": {k: v for k, v in key.response_dict.items()},
        }
    return found


def test_a_fresh_backend_gets_back_exactly_what_was_saved(tmp_path: Path, backends: tuple[Any, Any]) -> None:
    first, second = backends
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    first.create_bucket(bucket, "us-east-1")
    files = ObjectFiles(tmp_path / DIRECTORY)
    mirror = Mirror(first, files)
    mirror.record_buckets()

    head = first.put_object(bucket, "registry/m/champion.json", b'{"revision": 2}\n')
    head.set_metadata({"Content-Type": "application/json", "x-amz-meta-writer": "registry"})
    tagged = first.put_object(bucket, "data/train.csv", b"a,b\n1,2\n", storage="STANDARD_IA",
                              checksum_value="mMSLhw==")
    tagged.checksum_algorithm = "CRC32"
    first.put_object_tagging(tagged, {"stage": "train"})
    # A multipart object keeps its ETag ("<md5 of md5s>-<parts>"), not the MD5 of its bytes.
    first.put_object(bucket, "big.bin", b"x" * 10, etag="0123456789abcdef0123456789abcdef-2")
    for key in ("registry/m/champion.json", "data/train.csv", "big.bin"):
        mirror.sync(bucket, key)
    before = state(first, bucket)
    assert before["big.bin"]["etag"] == '"0123456789abcdef0123456789abcdef-2"'
    first.reset()

    restored = Mirror(second, ObjectFiles(tmp_path / DIRECTORY))
    assert restored.restore() == 3
    assert state(second, bucket) == before


def test_sync_follows_deletes_and_bucket_removal(tmp_path: Path, backends: tuple[Any, Any]) -> None:
    backend = backends[0]
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    backend.create_bucket(bucket, "us-east-1")
    files = ObjectFiles(tmp_path / DIRECTORY)
    mirror = Mirror(backend, files)
    for key in ("a", "b", "c"):
        backend.put_object(bucket, key, key.encode())
        mirror.sync(bucket, key)
    backend.delete_object(bucket, "a")
    mirror.sync(bucket, "a")
    assert files.keys(bucket) == {"b", "c"}

    # A bucket-level change (DeleteObjects) is synced for the whole bucket.
    backend.delete_object(bucket, "b")
    backend.delete_object(bucket, "c")
    backend.put_object(bucket, "d", b"d")
    mirror.sync(bucket, None)
    assert files.keys(bucket) == {"d"}

    backend.delete_object(bucket, "d")
    backend.delete_bucket(bucket)
    mirror.sync(bucket, None)
    assert files.buckets() == {}
    assert list(files.root.iterdir()) == []


def test_an_unchanged_object_is_not_written_again(tmp_path: Path, backends: tuple[Any, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    backend = backends[0]
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    backend.create_bucket(bucket, "us-east-1")
    files = ObjectFiles(tmp_path / DIRECTORY)
    mirror = Mirror(backend, files)
    backend.put_object(bucket, "a", b"one")
    mirror.sync(bucket, "a")
    writes: list[str] = []
    real_put = files.put
    monkeypatch.setattr(files, "put", lambda s: (writes.append(s.key), real_put(s)))
    mirror.sync(bucket, "a")  # e.g. a conditional PUT that failed with 412
    assert writes == []
    key = backend.get_object(bucket, "a")
    backend.put_object_tagging(key, {"changed": "yes"})
    mirror.sync(bucket, "a")
    assert writes == ["a"]


def test_a_key_replaced_while_being_saved_is_saved_as_replaced(
    tmp_path: Path, backends: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backends[0]
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    backend.create_bucket(bucket, "us-east-1")
    files = ObjectFiles(tmp_path / DIRECTORY)
    mirror = Mirror(backend, files)
    replaced = backend.put_object(bucket, "a", b"first")
    backend.put_object(bucket, "a", b"second")  # moto closes the first key's buffer
    keys = backend.get_bucket(bucket).keys
    real_get = keys.get
    answers = iter([replaced])
    # The first look-up sees the key a concurrent PUT has just replaced.
    monkeypatch.setattr(keys, "get", lambda name, default=None: next(answers, None) or real_get(name))
    mirror.sync(bucket, "a")
    assert [o.body for o in files.objects()] == [b"second"]


def test_last_modified_keeps_its_microseconds(tmp_path: Path, backends: tuple[Any, Any]) -> None:
    first, second = backends
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    first.create_bucket(bucket, "us-east-1")
    mirror = Mirror(first, ObjectFiles(tmp_path / DIRECTORY))
    key = first.put_object(bucket, "a", b"x")
    key.last_modified = datetime(2024, 5, 1, 12, 0, 0, 123456)
    mirror.sync(bucket, "a")
    first.reset()
    Mirror(second, ObjectFiles(tmp_path / DIRECTORY)).restore()
    assert second.get_object(bucket, "a").last_modified == datetime(2024, 5, 1, 12, 0, 0, 123456)
