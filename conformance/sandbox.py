"""Per-test isolation: a key prefix of its own in the stack's object store, and unique names.

Two tests, two xdist workers, or two runs against the same long-lived stack never share a key or
a model name: every name carries a token derived from (session token, worker, test node id).
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from minio import Minio
from minio.deleteobjects import DeleteObject

from appliance.objectstore import ObjectStore

ROOT = "conformance"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63


@dataclass(frozen=True)
class Isolation:
    """One pytest process: a random session token and its xdist worker id ("main" when serial)."""

    session: str
    worker: str

    @classmethod
    def new(cls, worker: str) -> Isolation:
        return cls(secrets.token_hex(3), worker)

    def scope(self, nodeid: str, name: str) -> TestScope:
        token = hashlib.blake2b(
            f"{self.session}/{self.worker}/{nodeid}".encode(), digest_size=3
        ).hexdigest()
        slug = _UNSAFE.sub("-", name).strip("-")[:48] or "test"
        return TestScope(token, f"{ROOT}/{self.session}-{self.worker}/{slug}-{token}/")


@dataclass(frozen=True)
class TestScope:
    """One test: its token (for names) and its object-store key prefix (ends with '/')."""

    __test__ = False

    token: str
    prefix: str

    def name(self, base: str) -> str:
        """`base` made unique to this test, still a DNS label (what KServe and Katib accept)."""
        if not _DNS_LABEL.match(base) or len(base) > MAX_NAME - len(self.token) - 1:
            raise ValueError(
                f"name {base!r}: use lowercase letters, digits and '-', at most "
                f"{MAX_NAME - len(self.token) - 1} characters (a token is appended)"
            )
        return f"{base}-{self.token}"


@dataclass
class ObjectStoreSandbox:
    """The stack's object store, confined to one test's key prefix; removed after the test."""

    store: ObjectStore
    prefix: str
    _client: Minio | None = field(default=None, repr=False)

    @property
    def bucket(self) -> str:
        return self.store.bucket

    def key(self, *parts: str) -> str:
        """The full key of a name inside this test's prefix (a trailing '/' is kept)."""
        joined = "/".join(p.strip("/") for p in parts if p.strip("/"))
        return self.prefix + joined + ("/" if joined and parts[-1].endswith("/") else "")

    def uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}"

    def client(self) -> Minio:
        if self._client is None:
            self._client = self.store.client()
        return self._client

    def boto3(self, **credentials: str) -> Any:
        """A boto3 S3 client on this store (override access/secret key to test refusals)."""
        import boto3  # imported here: only the tests that need boto3 pay for its import

        return boto3.client(
            "s3",
            endpoint_url=self.store.endpoint,
            region_name=self.store.region,
            aws_access_key_id=credentials.get("access_key", self.store.access_key),
            aws_secret_access_key=credentials.get("secret_key", self.store.secret_key),
        )

    def env(self) -> dict[str, str]:
        """What a subprocess needs to reach this store (AWS_* variables)."""
        return self.store.env()

    def put(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        key = self.key(name)
        self.client().put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        return key

    def get(self, name: str) -> bytes:
        response = self.client().get_object(self.bucket, self.key(name))
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def names(self, under: str = "") -> list[str]:
        """Names (keys relative to the prefix) of the objects stored under `under`, sorted."""
        listed = self.client().list_objects(self.bucket, prefix=self.key(under), recursive=True)
        return sorted(str(o.object_name).removeprefix(self.prefix) for o in listed)

    def cleanup(self, prefix: str | None = None) -> None:
        """Remove everything under the test's prefix (or under another prefix the test owns, such
        as its models' registry entries); a removal the store refuses is an error."""
        client = self.client()
        listed = client.list_objects(self.bucket, prefix=prefix or self.prefix, recursive=True)
        doomed = [DeleteObject(str(o.object_name)) for o in listed]
        if not doomed:
            return
        errors = list(client.remove_objects(self.bucket, doomed))
        if errors:
            where = f"s3://{self.bucket}/{prefix or self.prefix}"
            raise RuntimeError(f"cleanup of {where}: {len(errors)} object(s) not removed: {errors[0]}")
