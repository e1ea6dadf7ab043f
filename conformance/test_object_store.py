"""Object store: every byte written comes back, multipart uploads keep their checksums, and only
the holder of the stack's key gets in (wrong key -> 403)."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
import requests
from botocore.exceptions import ClientError
from minio.error import S3Error

from conformance.sandbox import ObjectStoreSandbox

pytestmark = [
    pytest.mark.conformance_area("object-store"),
    pytest.mark.requires_component("object-store"),
]

MiB = 1024 * 1024
MULTIPART_SIZE = 21 * MiB  # over 20 MB
PART_SIZE = 5 * MiB  # S3's smallest part (all but the last)
OBJECTS = {
    "round-trip/empty.txt": b"",
    "round-trip/hello.txt": b"hello, object store\n",
    "round-trip/nested/data.bin": bytes(range(256)) * 64,
}


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_put_get_list_delete_round_trip(object_store: ObjectStoreSandbox) -> None:
    client, bucket = object_store.client(), object_store.bucket
    for name, data in OBJECTS.items():
        object_store.put(name, data)

    for name, data in OBJECTS.items():
        assert object_store.get(name) == data, name
        stat = client.stat_object(bucket, object_store.key(name))
        assert (stat.size, stat.etag) == (len(data), _md5(data)), name
    assert object_store.names("round-trip/") == sorted(OBJECTS)
    shallow = client.list_objects(bucket, prefix=object_store.key("round-trip/"), recursive=False)
    assert sorted((str(o.object_name).removeprefix(object_store.prefix), o.is_dir) for o in shallow) == [
        ("round-trip/empty.txt", False),
        ("round-trip/hello.txt", False),
        ("round-trip/nested/", True),
    ]

    object_store.put("round-trip/hello.txt", b"replaced\n")
    assert object_store.get("round-trip/hello.txt") == b"replaced\n"

    for name in OBJECTS:
        client.remove_object(bucket, object_store.key(name))
    assert object_store.names("round-trip/") == []
    with pytest.raises(S3Error) as missing:
        object_store.get("round-trip/hello.txt")
    assert missing.value.code == "NoSuchKey"


def test_multipart_upload_keeps_every_byte_and_checksum(object_store: ObjectStoreSandbox) -> None:
    data = hashlib.shake_256(b"appliance conformance multipart").digest(MULTIPART_SIZE)
    chunks = [data[start : start + PART_SIZE] for start in range(0, MULTIPART_SIZE, PART_SIZE)]
    assert [len(c) for c in chunks] == [PART_SIZE] * 4 + [MiB]
    s3, bucket, key = object_store.boto3(), object_store.bucket, object_store.key("multipart/big.bin")

    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
    parts = []
    try:
        for number, chunk in enumerate(chunks, start=1):
            answer = s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=chunk,
                ChecksumAlgorithm="SHA256",
            )
            assert answer["ETag"] == f'"{_md5(chunk)}"', f"part {number}"
            assert answer["ChecksumSHA256"] == _b64_sha256(chunk), f"part {number}"
            parts.append(
                {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": answer["ChecksumSHA256"]}
            )
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with contextlib.suppress(ClientError):  # the original failure is the one to report
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
        raise

    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == MULTIPART_SIZE
    # S3's multipart ETag: the MD5 of the parts' MD5 digests, then "-<number of parts>".
    md5_of_md5s = hashlib.md5(
        b"".join(hashlib.md5(c, usedforsecurity=False).digest() for c in chunks), usedforsecurity=False
    ).hexdigest()
    assert head["ETag"] == f'"{md5_of_md5s}-{len(chunks)}"'
    # The composite checksum: SHA-256 of the parts' SHA-256 digests (AWS appends "-<parts>").
    composite = base64.b64encode(
        hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in chunks)).digest()
    ).decode()
    assert head["ChecksumSHA256"] in (composite, f"{composite}-{len(chunks)}")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(body) == MULTIPART_SIZE
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_wrong_credentials_are_refused_with_403(object_store: ObjectStoreSandbox) -> None:
    secret = b"only for the holder of the stack's key\n"
    object_store.put("auth/secret.txt", secret)
    bucket, key = object_store.bucket, object_store.key("auth/secret.txt")
    wrong_secret = object_store.boto3(secret_key="not-the-secret-key")
    unknown_key = object_store.boto3(access_key="AKIAAPPLIANCEUNKNOWN", secret_key="not-the-secret-key")

    for client, code in ((wrong_secret, "SignatureDoesNotMatch"), (unknown_key, "InvalidAccessKeyId")):
        calls = {
            "get": lambda c=client: c.get_object(Bucket=bucket, Key=key),
            "overwrite": lambda c=client: c.put_object(Bucket=bucket, Key=key, Body=b"tampered"),
            "put": lambda c=client: c.put_object(Bucket=bucket, Key=object_store.key("auth/new"), Body=b"x"),
            "list": lambda c=client: c.list_objects_v2(Bucket=bucket, Prefix=object_store.prefix),
            "delete": lambda c=client: c.delete_object(Bucket=bucket, Key=key),
        }
        for operation, call in calls.items():
            with pytest.raises(ClientError) as refused:
                call()
            answer = refused.value.response
            assert (answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"]) == (403, code), (
                f"{operation} with {code}"
            )

    url = f"{object_store.store.endpoint}/{bucket}/{key}"
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.put(url, data=b"tampered", timeout=10).status_code == 403
    # Nothing the refused requests tried has happened.
    assert object_store.get("auth/secret.txt") == secret
    assert object_store.names("auth/") == ["auth/secret.txt"]
