"""What clients see of refusals: no body on HEAD (aiohttp, as s3fs/aiobotocore use it), and an S3
error - never a 500 - for an Authorization header that is not SigV4 (boto3 SigV2, raw headers)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
from typing import Any

import aiohttp
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from minio import Minio
from minio.error import S3Error
from store_process import BUCKET, StoreProcess

pytestmark = pytest.mark.integration

SIGV2_MESSAGE = ("The authorization mechanism you have provided is not supported. "
                 "Please use AWS4-HMAC-SHA256.")


def sigv4_headers(store: StoreProcess, method: str, url: str, secret: str | None = None,
                  **extra: str) -> dict[str, str]:
    """Headers as aiobotocore signs them (botocore's S3 SigV4 signer)."""
    empty = hashlib.sha256(b"").hexdigest()
    headers = {"x-amz-content-sha256": empty, **{k.replace("_", "-"): v for k, v in extra.items()}}
    request = AWSRequest(method=method, url=url, headers=headers)
    credentials = Credentials(store.credentials["access_key"], secret or store.credentials["secret_key"])
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


@pytest.fixture
def present(store: StoreProcess) -> str:
    """protocol/present.txt holds twelve bytes; returns its URL."""
    store.client().put_object(Bucket=BUCKET, Key="protocol/present.txt", Body=b"twelve bytes")
    return f"{store.endpoint}/{BUCKET}/protocol/present.txt"


def raw_exchange(store: StoreProcess, request: bytes) -> tuple[bytes, bytes]:
    """Send one request on a socket; return (status line + headers, every byte after them)."""
    with socket.create_connection(("127.0.0.1", store.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def test_head_refusals_carry_no_body_and_the_content_length_of_the_get(store: StoreProcess) -> None:
    url = f"/{BUCKET}/protocol/missing.txt"
    head, after = raw_exchange(store, f"HEAD {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert head.startswith(b"HTTP/1.1 403")
    assert after == b""
    length = [line.split(b":")[1].strip() for line in head.split(b"\r\n")
              if line.lower().startswith(b"content-length")]
    get = requests.get(store.endpoint + url, timeout=30)
    assert get.status_code == 403 and b"<Code>AccessDenied</Code>" in get.content
    assert length == [str(len(get.content)).encode()]


def test_aiohttp_sees_the_status_of_every_refused_head(store: StoreProcess, present: str) -> None:
    """s3fs and aiobotocore use aiohttp: a body after a HEAD answer made it fail with
    '400 Data after Connection: close' instead of reporting the 403."""
    missing = f"{store.endpoint}/{BUCKET}/protocol/absent.txt"

    async def heads() -> list[tuple[int, str | None, bytes]]:
        found = []
        async with aiohttp.ClientSession() as session:
            for url, headers in [
                (present, {}),  # unsigned: refused by the appliance (403 AccessDenied)
                (present, {"Authorization": "AWS key:c2lnbmF0dXJl"}),  # SigV2: 400 InvalidRequest
                (present, sigv4_headers(store, "HEAD", present, secret="wrong")),  # moto: 403
                (missing, sigv4_headers(store, "HEAD", missing)),  # 404
                (present, sigv4_headers(store, "HEAD", present)),  # 200
                (present, sigv4_headers(store, "HEAD", present, If_None_Match="*")),  # 304
                (present, sigv4_headers(store, "HEAD", present, If_Match='"0"')),  # 412
                (present, {}),  # and the session still works after all of them
            ]:
                async with session.head(url, headers=headers) as answer:
                    found.append((answer.status, answer.headers.get("Content-Length"), await answer.read()))
        return found

    assert [(status, body) for status, _, body in asyncio.run(heads())] == [
        (403, b""), (400, b""), (403, b""), (404, b""), (200, b""), (304, b""), (412, b""), (403, b"")]
    assert asyncio.run(heads())[4][1] == "12"


def test_boto3_signature_version_2_gets_s3s_refusal(store: StoreProcess, present: str) -> None:
    sigv2 = store.client(signature_version="s3")
    with pytest.raises(ClientError) as refused:
        sigv2.get_object(Bucket=BUCKET, Key="protocol/present.txt")
    error = refused.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, "InvalidRequest")
    assert error["Error"]["Message"] == SIGV2_MESSAGE
    with pytest.raises(ClientError) as refused:
        sigv2.put_object(Bucket=BUCKET, Key="protocol/sigv2.txt", Body=b"must not land")
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError) as head:
        sigv2.head_object(Bucket=BUCKET, Key="protocol/present.txt")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        store.client().head_object(Bucket=BUCKET, Key="protocol/sigv2.txt")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


MALFORMED: list[tuple[str, int, str]] = [
    ("garbage", 400, "InvalidArgument"),
    ("Bearer abc.def", 400, "InvalidArgument"),
    ("AWS", 400, "InvalidRequest"),
    ("AWS4-HMAC-SHA256", 400, "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 garbage", 400, "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
     400, "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20240501/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64, 403, "InvalidAccessKeyId"),
]


@pytest.mark.parametrize(("authorization", "status", "code"), MALFORMED)
def test_malformed_authorization_headers_get_s3_errors(store: StoreProcess, present: str,
                                                       authorization: str, status: int, code: str) -> None:
    url = present
    for method in ("GET", "PUT", "DELETE"):
        answer = requests.request(method, url, data=b"x" if method == "PUT" else None, timeout=30,
                                  headers={"Authorization": authorization, "x-amz-date": "20240501T120000Z"})
        assert answer.status_code == status, (method, answer.text)
        assert f"<Code>{code}</Code>" in answer.text, method
    body = store.client().get_object(Bucket=BUCKET, Key="protocol/present.txt")["Body"].read()
    assert body == b"twelve bytes"  # none of the refused writes or deletes happened


def test_minio_client_round_trip_still_works(store: StoreProcess) -> None:
    client = Minio(f"127.0.0.1:{store.port}", access_key=store.credentials["access_key"],
                   secret_key=store.credentials["secret_key"], secure=False, region="us-east-1")
    client.put_object(BUCKET, "protocol/minio.txt", io.BytesIO(b"minio"), 5, content_type="text/plain")
    assert client.stat_object(BUCKET, "protocol/minio.txt").content_type == "text/plain"
    with pytest.raises(S3Error) as missing:
        client.stat_object(BUCKET, "protocol/none.txt")
    assert missing.value.code in ("NoSuchKey", "ResourceNotFound")


def test_the_admin_api_stays_refused(store: StoreProcess) -> None:
    answer: Any = requests.post(f"{store.endpoint}/moto-api/reset", timeout=30)
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
