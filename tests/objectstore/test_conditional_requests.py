"""Conditional requests with boto3 against the local store answer as S3 does (the registry's
compare-and-swap relies on them): writes with If-Match / If-None-Match, reads with all four."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from store_process import BUCKET, StoreProcess

from appliance.gates.registry import Entry, Registry

pytestmark = pytest.mark.integration

PAST = "Sat, 29 Oct 1994 19:43:31 GMT"
FUTURE = "Sat, 29 Oct 2100 19:43:31 GMT"


def answer(call: Callable[[], Any]) -> tuple[int, str]:
    """(HTTP status, S3 error code or 'OK') of one call."""
    try:
        call()
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    return 200, "OK"


def put(client: Any, key: str, data: bytes, **condition: str) -> tuple[int, str]:
    return answer(lambda: client.put_object(Bucket=BUCKET, Key=key, Body=data, **condition))


def with_headers(store: StoreProcess, **headers: str) -> Any:
    """A client that sends extra headers botocore has no parameter for (If-Match: *)."""
    client = store.client()

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name.replace("_", "-")] = value

    client.meta.events.register("before-sign.s3.*", add)
    return client


@pytest.fixture
def key() -> str:
    return f"conditional/{uuid.uuid4().hex}"


def body(store: StoreProcess, key: str) -> bytes | None:
    try:
        return bytes(store.client().get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except ClientError:
        return None


def test_put_if_none_match_star_creates_only(store: StoreProcess, key: str) -> None:
    s3 = store.client()
    assert put(s3, key, b"first", IfNoneMatch="*") == (200, "OK")
    assert put(s3, key, b"second", IfNoneMatch="*") == (412, "PreconditionFailed")
    assert body(store, key) == b"first"


def test_put_if_none_match_with_an_etag_is_not_implemented_as_on_s3(store: StoreProcess, key: str) -> None:
    s3 = store.client()
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"kept")["ETag"]
    # Before: moto ignored the header and overwrote the object.
    for value in (etag, '"00000000000000000000000000000000"'):
        assert put(s3, key, b"lost", IfNoneMatch=value) == (501, "NotImplemented")
    assert put(s3, key, b"lost", IfMatch=etag, IfNoneMatch="*") == (501, "NotImplemented")
    assert body(store, key) == b"kept"


def test_put_if_match(store: StoreProcess, key: str) -> None:
    s3 = store.client()
    stale = s3.put_object(Bucket=BUCKET, Key=key, Body=b"one")["ETag"]
    current = s3.put_object(Bucket=BUCKET, Key=key, Body=b"two")["ETag"]
    assert put(s3, key, b"x", IfMatch=stale) == (412, "PreconditionFailed")
    assert put(s3, key, b"three", IfMatch=current.strip('"')) == (200, "OK")
    # Before: If-Match: * was compared as an entity tag and answered 412.
    assert put(with_headers(store, If_Match="*"), key, b"four") == (200, "OK")
    assert body(store, key) == b"four"
    missing = f"{key}-missing"
    for value in ("*", current):
        assert put(with_headers(store, If_Match=value), missing, b"x") == (404, "NoSuchKey")
    assert body(store, missing) is None


def test_copy_and_complete_multipart_honour_write_conditions(store: StoreProcess, key: str) -> None:
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key=f"{key}-source", Body=b"source")
    existing = s3.put_object(Bucket=BUCKET, Key=key, Body=b"target")["ETag"]
    source = {"Bucket": BUCKET, "Key": f"{key}-source"}
    assert answer(lambda: s3.copy_object(Bucket=BUCKET, Key=key, CopySource=source, IfNoneMatch="*")) == (
        412, "PreconditionFailed")
    assert answer(lambda: s3.copy_object(Bucket=BUCKET, Key=f"{key}-copy", CopySource=source,
                                         IfNoneMatch="*")) == (200, "OK")
    assert body(store, key) == b"target"

    def complete(**condition: str) -> tuple[int, str]:
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"multipart")
        return answer(lambda: s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}, **condition))

    assert complete(IfNoneMatch="*") == (412, "PreconditionFailed")
    assert complete(IfMatch='"00000000000000000000000000000000"') == (412, "PreconditionFailed")
    assert body(store, key) == b"target"
    assert complete(IfMatch=existing) == (200, "OK")
    assert body(store, key) == b"multipart"


def test_get_and_head_preconditions(store: StoreProcess, key: str) -> None:
    s3 = store.client()
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"read me")["ETag"]
    for read in (s3.get_object, s3.head_object):
        def call(read: Any = read, **condition: Any) -> tuple[int, str]:
            return answer(lambda: read(Bucket=BUCKET, Key=key, **condition))

        assert call(IfMatch=etag) == (200, "OK")
        assert call(IfMatch=etag.strip('"')) == (200, "OK")  # before: HEAD compared the quotes
        assert call(IfMatch="*") == (200, "OK")  # before: 412
        assert call(IfMatch='"00000000000000000000000000000000"')[0] == 412
        assert call(IfNoneMatch=etag)[0] == 304
        assert call(IfNoneMatch="*")[0] == 304  # before: 200
        assert call(IfNoneMatch='"00000000000000000000000000000000"') == (200, "OK")
        assert call(IfModifiedSince=PAST) == (200, "OK")
        assert call(IfModifiedSince=FUTURE)[0] == 304
        assert call(IfUnmodifiedSince=PAST)[0] == 412
        assert call(IfUnmodifiedSince=FUTURE) == (200, "OK")
        # S3: a true If-Match overrides a false If-Unmodified-Since (before: 412) ...
        assert call(IfMatch=etag, IfUnmodifiedSince=PAST) == (200, "OK")
        # ... and a matching If-None-Match answers 304 whatever If-Modified-Since says.
        assert call(IfNoneMatch=etag, IfModifiedSince=PAST)[0] == 304
    absent = f"{key}-absent"
    assert answer(lambda: s3.get_object(Bucket=BUCKET, Key=absent, IfMatch="*")) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=BUCKET, Key=key, IfMatch='"00000000000000000000000000000000"')
    assert failed.value.response["Error"]["Code"] == "PreconditionFailed"
    assert failed.value.response["Error"]["Condition"] == "If-Match"


def test_concurrent_compare_and_swap_has_exactly_one_winner(store: StoreProcess, key: str) -> None:
    etag = store.client().put_object(Bucket=BUCKET, Key=key, Body=b"base")["ETag"]
    clients = [store.client() for _ in range(8)]
    results: list[tuple[int, str]] = [(0, "")] * len(clients)
    start = threading.Barrier(len(clients))

    def swap(index: int) -> None:
        start.wait()
        results[index] = answer(lambda: clients[index].put_object(
            Bucket=BUCKET, Key=key, Body=f"writer {index}".encode(), IfMatch=etag))

    threads = [threading.Thread(target=swap, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i, result in enumerate(results) if result == (200, "OK")]
    assert len(winners) == 1, results
    assert sorted(results) == sorted([(200, "OK")] + [(412, "PreconditionFailed")] * 7)
    assert body(store, key) == f"writer {winners[0]}".encode()


def test_the_registry_moves_its_pointer_with_these_conditions(store: StoreProcess) -> None:
    registry = Registry(client=store.client(), bucket=BUCKET)
    model = f"m-{uuid.uuid4().hex[:8]}"
    registry.promote(model, Entry("v1", "s3://mlpipeline/v1"), None)
    registry.promote(model, Entry("v2", "s3://mlpipeline/v2"), None)
    back = registry.rollback(model)
    assert (back.revision, back.entry.version) == (3, "v1")
    assert [(r.revision, r.action, r.entry.version) for r in registry.history(model)] == [
        (1, "promote", "v1"), (2, "promote", "v2"), (3, "rollback", "v1")]
