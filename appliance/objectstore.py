"""The object store of a stack: endpoint, credentials, clients and the environment tools need."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from minio import Minio

DEFAULT_BUCKET = "mlpipeline"


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    bucket: str = DEFAULT_BUCKET

    def __repr__(self) -> str:
        # Never show the secret in logs, tracebacks or test output.
        return f"ObjectStore(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    @property
    def host(self) -> str:
        return urlparse(self.endpoint).netloc

    def client(self) -> Minio:
        return Minio(
            self.host,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=urlparse(self.endpoint).scheme == "https",
            region=self.region,
        )

    def env(self) -> dict[str, str]:
        """Environment that points AWS SDKs, the minio client and the stubs at this store."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def healthy(self) -> tuple[bool, str]:
        """Probe with a signed request: the bucket must exist and the credentials must work."""
        try:
            found = self.client().bucket_exists(self.bucket)
        except Exception as exc:  # any transport or S3 error means unhealthy; say which
            return False, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return (True, "ok") if found else (False, f"bucket {self.bucket!r} missing")
