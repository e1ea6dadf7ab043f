"""S3's precondition semantics, decided without a server (reads: RFC 9110 order; writes: S3's)."""

from __future__ import annotations

from datetime import datetime

import pytest

from appliance.targets.local.s3_conditions import Current, Outcome, for_read, for_write

ETAG = '"5d41402abc4b2a76b9719d911017c592"'
OTHER = '"00000000000000000000000000000000"'
# Last-Modified 2024-05-01 12:00:00.750 UTC: HTTP dates compare at whole seconds.
CURRENT = Current(ETAG, datetime(2024, 5, 1, 12, 0, 0, 750000))
BEFORE = "Wed, 01 May 2024 11:59:59 GMT"
SAME_SECOND = "Wed, 01 May 2024 12:00:00 GMT"
LATER = "Wed, 01 May 2024 12:00:01 GMT"


def read(**headers: str) -> tuple[Outcome, str | None]:
    verdict = for_read({k.replace("_", "-"): v for k, v in headers.items()}, CURRENT)
    return verdict.outcome, verdict.header


def write(current: Current | None = CURRENT, **headers: str) -> tuple[Outcome, str | None]:
    verdict = for_write({k.replace("_", "-"): v for k, v in headers.items()}, current)
    return verdict.outcome, verdict.header


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, (Outcome.PROCEED, None)),
    ({"If_Match": ETAG}, (Outcome.PROCEED, None)),
    ({"If_Match": ETAG.strip('"')}, (Outcome.PROCEED, None)),  # S3 ignores the quotes
    ({"If_Match": "*"}, (Outcome.PROCEED, None)),
    ({"If_Match": f"{OTHER}, {ETAG}"}, (Outcome.PROCEED, None)),
    ({"If_Match": OTHER}, (Outcome.PRECONDITION_FAILED, "If-Match")),
    ({"If_Match": f"W/{ETAG}"}, (Outcome.PRECONDITION_FAILED, "If-Match")),  # strong comparison
    ({"If_None_Match": ETAG}, (Outcome.NOT_MODIFIED, "If-None-Match")),
    ({"If_None_Match": f"W/{ETAG}"}, (Outcome.NOT_MODIFIED, "If-None-Match")),  # weak comparison
    ({"If_None_Match": "*"}, (Outcome.NOT_MODIFIED, "If-None-Match")),
    ({"If_None_Match": OTHER}, (Outcome.PROCEED, None)),
    ({"If_Modified_Since": BEFORE}, (Outcome.PROCEED, None)),
    ({"If_Modified_Since": SAME_SECOND}, (Outcome.NOT_MODIFIED, "If-Modified-Since")),
    ({"If_Modified_Since": LATER}, (Outcome.NOT_MODIFIED, "If-Modified-Since")),
    ({"If_Modified_Since": "not a date"}, (Outcome.PROCEED, None)),  # invalid: ignored
    ({"If_Unmodified_Since": BEFORE}, (Outcome.PRECONDITION_FAILED, "If-Unmodified-Since")),
    ({"If_Unmodified_Since": SAME_SECOND}, (Outcome.PROCEED, None)),
    ({"If_Unmodified_Since": "Sat, 29 Oct 1994 19:43:31 GMT"},
     (Outcome.PRECONDITION_FAILED, "If-Unmodified-Since")),
    # S3 (GetObject): If-Match true and If-Unmodified-Since false -> 200.
    ({"If_Match": ETAG, "If_Unmodified_Since": BEFORE}, (Outcome.PROCEED, None)),
    # S3 (GetObject): If-None-Match false and If-Modified-Since true -> 304.
    ({"If_None_Match": ETAG, "If_Modified_Since": BEFORE}, (Outcome.NOT_MODIFIED, "If-None-Match")),
    # A present If-None-Match decides alone (RFC 9110 13.2.2 step 3).
    ({"If_None_Match": OTHER, "If_Modified_Since": LATER}, (Outcome.PROCEED, None)),
    # 412 is decided before 304.
    ({"If_Match": OTHER, "If_None_Match": ETAG}, (Outcome.PRECONDITION_FAILED, "If-Match")),
])
def test_reads(headers: dict[str, str], expected: tuple[Outcome, str | None]) -> None:
    assert read(**headers) == expected


@pytest.mark.parametrize(("current", "headers", "expected"), [
    (CURRENT, {}, (Outcome.PROCEED, None)),
    (None, {"If_None_Match": "*"}, (Outcome.PROCEED, None)),
    (CURRENT, {"If_None_Match": "*"}, (Outcome.PRECONDITION_FAILED, "If-None-Match")),
    # S3 accepts only '*' in If-None-Match on writes; an entity tag is 501 NotImplemented.
    (CURRENT, {"If_None_Match": ETAG}, (Outcome.NOT_IMPLEMENTED, "If-None-Match")),
    (None, {"If_None_Match": OTHER}, (Outcome.NOT_IMPLEMENTED, "If-None-Match")),
    (CURRENT, {"If_Match": ETAG, "If_None_Match": "*"}, (Outcome.NOT_IMPLEMENTED, "If-None-Match")),
    (CURRENT, {"If_Match": ETAG}, (Outcome.PROCEED, None)),
    (CURRENT, {"If_Match": ETAG.strip('"')}, (Outcome.PROCEED, None)),
    (CURRENT, {"If_Match": "*"}, (Outcome.PROCEED, None)),
    (CURRENT, {"If_Match": OTHER}, (Outcome.PRECONDITION_FAILED, "If-Match")),
    (None, {"If_Match": ETAG}, (Outcome.NO_SUCH_KEY, "If-Match")),
    (None, {"If_Match": "*"}, (Outcome.NO_SUCH_KEY, "If-Match")),
    # Date conditions are not write preconditions on S3: ignored.
    (CURRENT, {"If_Unmodified_Since": BEFORE}, (Outcome.PROCEED, None)),
])
def test_writes(current: Current | None, headers: dict[str, str],
                expected: tuple[Outcome, str | None]) -> None:
    assert write(current, **headers) == expected
