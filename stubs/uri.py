"""Read and write bytes at a local path, a file:// URI or an s3://bucket/key URI (signed requests)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from stubs.errors import BadStubInput

if TYPE_CHECKING:
    from minio import Minio

# The same variables the AWS SDKs read, so one environment serves boto3, the minio client and us.
_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/key/parts` -> ("bucket", "key/parts"); both must be non-empty."""
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise BadStubInput(f"{uri}: an S3 URI needs a bucket and a key, like s3://bucket/path/file")
    return bucket, key


def local_path(uri: str) -> Path:
    if uri.startswith("file://"):
        return Path(urlparse(uri).path)
    if "://" in uri:
        raise BadStubInput(f"{uri}: unsupported URI scheme; use a local path or s3://bucket/key")
    return Path(uri)


def s3_client() -> Minio:
    """A minio client from AWS_* environment variables; credentials never come from arguments."""
    from minio import Minio  # imported lazily: local-only runs do not pay for it

    endpoint = next((os.environ[v] for v in _ENDPOINT_VARS if os.environ.get(v)), "")
    access_key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    missing = [
        name
        for name, value in (
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", access_key),
            ("AWS_SECRET_ACCESS_KEY", secret_key),
        )
        if not value
    ]
    if missing:
        raise BadStubInput(
            f"s3:// URIs need {', '.join(missing)} in the environment "
            "(run `eval $(appliance env)` or export them)"
        )
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadStubInput(f"AWS_ENDPOINT_URL={endpoint!r} is not an http(s) URL")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    return Minio(
        parsed.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=parsed.scheme == "https",
        region=region,
    )


def _describe(exc: Exception) -> str:
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    if code and message:  # minio's S3Error: the S3 error code says most (NoSuchKey, AccessDenied)
        return f"{code}: {message}"
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def read_bytes(uri: str) -> bytes:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        client = s3_client()
        try:
            response = client.get_object(bucket, key)
        except Exception as exc:  # S3Error, or urllib3/OS errors when the endpoint is down
            raise BadStubInput(f"{uri}: cannot read ({_describe(exc)})") from exc
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()
    path = local_path(uri)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadStubInput(f"{uri}: cannot read ({exc.strerror or exc})") from exc


def write_bytes(uri: str, data: bytes, content_type: str = "application/octet-stream") -> str:
    """Write `data` at `uri` (parent folders created for local paths) and return `uri`."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        client = s3_client()
        try:
            client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except Exception as exc:  # S3Error, or urllib3/OS errors when the endpoint is down
            raise BadStubInput(f"{uri}: cannot write ({_describe(exc)})") from exc
        return uri
    path = local_path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a reader never sees half a file
    except OSError as exc:
        raise BadStubInput(f"{uri}: cannot write ({exc.strerror or exc})") from exc
    return uri
