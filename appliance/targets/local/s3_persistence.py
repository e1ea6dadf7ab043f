"""The local object store's objects on disk: written through, fsynced and atomic, so that a
restarted object store (after a crash, `appliance up` replaces the stale stack) holds exactly
the objects it acknowledged - bytes, ETags, Last-Modified, metadata, checksums and tags.

moto keeps objects in memory. `Mirror` copies the state of every object a request touched from
moto's backend to `ObjectFiles` before the request is answered, and `Mirror.restore` puts them
back into a fresh backend before the server opens its socket. Layout under the stack's run dir
(directories 0700, files 0600; names are SHA-256 digests because keys may hold any character):

    objects/<sha256(bucket)>/bucket.json            {"format": 1, "name": ..., "region": ...}
    objects/<sha256(bucket)>/<sha256(key)>.object   one JSON header line, then the object's bytes

Each file is replaced atomically (temporary file, fsync, rename, fsync of the directory), so a
crash leaves either the old or the new state of an object, never a mix. Not kept: in-progress
multipart uploads, older versions in versioned buckets, object ACLs and bucket configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DIRECTORY = "objects"
FORMAT = 1
BUCKET_FILE = "bucket.json"
SUFFIX = ".object"
TEMP_PREFIX = ".tmp-"
_READ_ATTEMPTS = 5


class CorruptStore(Exception):
    """A file of the object store on disk cannot be read back; names the file and the way out."""

    def __init__(self, path: Path, reason: str) -> None:
        root = path.parent.parent  # objects/<bucket>/<file>; the stack's run dir is above
        super().__init__(
            f"{path}: {reason}. Move the file out of {root} to start without it, or run "
            f"'appliance down --name {root.parent.name}' to discard every object of the stack"
        )
        self.path = path


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    body: bytes
    attributes: dict[str, Any]


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace `path` atomically with `chunks` (mode 0600), durable when this returns."""
    fd, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class ObjectFiles:
    """The files of one object store, with an index of what they hold (no moto here)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._buckets: dict[str, str] = {}  # name -> region
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}  # (bucket, key) -> attributes
        if not root.exists():
            root.mkdir(mode=0o700, parents=True)
            _fsync_dir(root.parent)  # the directory entry of objects/ is durable too
        os.chmod(root, 0o700)
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            self._index_bucket(directory)

    # -- reading ------------------------------------------------------------------------------
    def _index_bucket(self, directory: Path) -> None:
        record = self._read_json(directory / BUCKET_FILE)
        name, region = record.get("name"), record.get("region")
        if not isinstance(name, str) or not isinstance(region, str) or _digest(name) != directory.name:
            raise CorruptStore(directory / BUCKET_FILE, "not the record of this bucket directory")
        self._buckets[name] = region
        for path in sorted(directory.iterdir()):
            if path.name.startswith(TEMP_PREFIX):
                path.unlink()  # a write that a crash interrupted; the object it replaced is intact
            elif path.name.endswith(SUFFIX):
                header, _ = self._read_object(path, name)
                self._objects[(name, header["key"])] = header["attributes"]

    def _read_json(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise CorruptStore(path, f"unreadable ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CorruptStore(path, f"not an object store record of format {FORMAT}")
        return data

    def _read_object(self, path: Path, bucket: str) -> tuple[dict[str, Any], bytes]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CorruptStore(path, f"unreadable ({exc})") from exc
        line, newline, body = data.partition(b"\n")
        try:
            header = json.loads(line) if newline else None
        except ValueError:
            header = None
        if (
            not isinstance(header, dict)
            or header.get("format") != FORMAT
            or header.get("bucket") != bucket
            or not isinstance(header.get("key"), str)
            or not isinstance(header.get("attributes"), dict)
        ):
            raise CorruptStore(path, "not an object of this bucket")
        if path.name != _digest(header["key"]) + SUFFIX:
            raise CorruptStore(path, "its file name does not match the key it holds")
        if header.get("size") != len(body):
            raise CorruptStore(path, f"holds {len(body)} bytes, its header says {header.get('size')}")
        return header, body

    def buckets(self) -> dict[str, str]:
        return dict(self._buckets)

    def keys(self, bucket: str) -> set[str]:
        return {key for (name, key) in self._objects if name == bucket}

    def attributes(self, bucket: str, key: str) -> dict[str, Any] | None:
        return self._objects.get((bucket, key))

    def objects(self) -> Iterator[StoredObject]:
        """Every stored object, bodies read one at a time."""
        for bucket, key in sorted(self._objects):
            header, body = self._read_object(self._object_path(bucket, key), bucket)
            yield StoredObject(bucket, key, body, header["attributes"])

    # -- writing ------------------------------------------------------------------------------
    def _bucket_dir(self, bucket: str) -> Path:
        return self.root / _digest(bucket)

    def _object_path(self, bucket: str, key: str) -> Path:
        return self._bucket_dir(bucket) / (_digest(key) + SUFFIX)

    def put_bucket(self, name: str, region: str) -> None:
        directory = self._bucket_dir(name)
        if not directory.exists():
            directory.mkdir(mode=0o700)
            _fsync_dir(self.root)
        record = {"format": FORMAT, "name": name, "region": region}
        _write_durably(directory / BUCKET_FILE, [json.dumps(record, sort_keys=True).encode()])
        self._buckets[name] = region

    def delete_bucket(self, name: str) -> None:
        directory = self._bucket_dir(name)
        for key in self.keys(name):
            self.delete(name, key)
        if directory.exists():
            for path in directory.iterdir():
                path.unlink()
            directory.rmdir()
            _fsync_dir(self.root)
        self._buckets.pop(name, None)

    def put(self, stored: StoredObject) -> None:
        if stored.bucket not in self._buckets:
            raise KeyError(f"bucket {stored.bucket!r} is not recorded")
        header = {
            "format": FORMAT,
            "bucket": stored.bucket,
            "key": stored.key,
            "size": len(stored.body),
            "attributes": stored.attributes,
        }
        line = json.dumps(header, sort_keys=True).encode() + b"\n"
        _write_durably(self._object_path(stored.bucket, stored.key), [line, stored.body])
        self._objects[(stored.bucket, stored.key)] = stored.attributes

    def delete(self, bucket: str, key: str) -> None:
        if self._objects.pop((bucket, key), None) is None:
            return
        path = self._object_path(bucket, key)
        path.unlink(missing_ok=True)
        _fsync_dir(path.parent)


class Mirror:
    """Keeps `ObjectFiles` equal to moto's S3 backend for what requests touch, and restores it."""

    def __init__(self, backend: Any, files: ObjectFiles) -> None:
        self.backend = backend
        self.files = files
        # One writer at a time: a sync reads the backend's current state and writes it, so the
        # last sync of a key always leaves the files equal to the backend.
        self._lock = threading.Lock()

    def restore(self) -> int:
        """Put every stored bucket and object back into the (fresh) backend; returns the count."""
        from moto.s3.exceptions import MissingBucket

        for name, region in sorted(self.files.buckets().items()):
            try:
                self.backend.get_bucket(name)
            except MissingBucket:
                self.backend.create_bucket(name, region)
        restored = 0
        for stored in self.files.objects():
            _restore(self.backend, stored)
            restored += 1
        return restored

    def record_buckets(self) -> None:
        """Record the buckets the backend holds (those provisioned at start)."""
        with self._lock:
            for name, bucket in self.backend.buckets.items():
                if name not in self.files.buckets():
                    self.files.put_bucket(name, bucket.region_name)

    def sync(self, bucket: str, key: str | None) -> None:
        """Make the files hold what the backend holds for one key, or for a whole bucket."""
        from moto.s3.exceptions import MissingBucket

        with self._lock:
            try:
                found = self.backend.get_bucket(bucket)
            except MissingBucket:
                self.files.delete_bucket(bucket)
                return
            if bucket not in self.files.buckets():
                self.files.put_bucket(bucket, found.region_name)
            if key is not None:
                self._sync_key(found, key)
                return
            held = set(found.keys.keys())
            for gone in self.files.keys(bucket) - held:
                self.files.delete(bucket, gone)
            for name in sorted(held):
                self._sync_key(found, name)

    def _sync_key(self, bucket: Any, key: str) -> None:
        from moto.s3.models import FakeKey

        for _ in range(_READ_ATTEMPTS):
            current = bucket.keys.get(key)
            if not isinstance(current, FakeKey):  # absent, or a delete marker
                self.files.delete(bucket.name, key)
                return
            try:
                attributes = _attributes(self.backend, current)
                if self.files.attributes(bucket.name, key) == attributes:
                    return
                body = current.value
            except ValueError:
                continue  # a concurrent write replaced (and closed) it: read the newer one
            self.files.put(StoredObject(bucket.name, key, body, attributes))
            return
        raise RuntimeError(f"object {key!r} in {bucket.name!r} kept changing while being saved")


def _attributes(backend: Any, key: Any) -> dict[str, Any]:
    """Everything of a moto key besides its bytes that a GET, HEAD or LIST answers with."""
    return {
        "etag": key.etag.strip('"'),
        "last_modified": key.last_modified.isoformat(),
        "metadata": dict(key.metadata),
        "storage_class": key.storage_class,
        "checksum_algorithm": key.checksum_algorithm,
        "checksum_value": key.checksum_value,
        "checksum_type": key.checksum_type,
        "checksum_parts": key.checksum_parts,
        "encryption": key.encryption,
        "kms_key_id": key.kms_key_id,
        "bucket_key_enabled": key.bucket_key_enabled,
        "website_redirect_location": key.website_redirect_location,
        "lock_mode": key.lock_mode,
        "lock_legal_status": key.lock_legal_status,
        "lock_until": key.lock_until,
        "tags": backend.tagger.get_tag_dict_for_resource(key.arn),
    }


def _restore(backend: Any, stored: StoredObject) -> None:
    attributes = stored.attributes
    key = backend.put_object(
        stored.bucket,
        stored.key,
        stored.body,
        storage=attributes["storage_class"],
        etag=attributes["etag"],
        encryption=attributes["encryption"],
        kms_key_id=attributes["kms_key_id"],
        bucket_key_enabled=attributes["bucket_key_enabled"],
        lock_mode=attributes["lock_mode"],
        lock_legal_status=attributes["lock_legal_status"],
        lock_until=attributes["lock_until"],
        checksum_value=attributes["checksum_value"],
        disable_notification=True,
    )
    key.last_modified = datetime.fromisoformat(attributes["last_modified"])
    key.metadata.clear()
    key.set_metadata(dict(attributes["metadata"]))
    key.checksum_algorithm = attributes["checksum_algorithm"]
    key.checksum_type = attributes["checksum_type"]
    key.checksum_parts = attributes["checksum_parts"]
    key.website_redirect_location = attributes["website_redirect_location"]
    if attributes["tags"]:
        backend.put_object_tagging(key, attributes["tags"])


def discard_all_but_objects(run_dir: Path) -> None:
    """Empty a stack's run dir except its stored objects (a stale or failed stack being replaced
    keeps them for the next start; only `appliance down` discards them)."""
    import shutil

    if not any((run_dir / DIRECTORY).glob(f"*/*{SUFFIX}")):
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for entry in run_dir.iterdir():
        if entry.name == DIRECTORY:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
