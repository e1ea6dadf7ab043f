"""S3's precondition semantics (If-Match, If-None-Match, If-(Un)Modified-Since), as pure functions.

Reads (GetObject, HeadObject) follow RFC 9110 section 13.2.2, which is the order S3 documents:
If-Match (else If-Unmodified-Since) can fail with 412; then If-None-Match (else If-Modified-Since)
can answer 304. A true If-Match overrides a false If-Unmodified-Since, and a matching
If-None-Match answers 304 whatever If-Modified-Since says.

Writes (PutObject, CopyObject, CompleteMultipartUpload) follow S3's conditional writes:
`If-None-Match` accepts only `*` (412 when the key exists); any other value, or both headers in
one request, is 501 NotImplemented, as S3 answers; `If-Match` on a missing key is 404 NoSuchKey,
otherwise 412 unless an entity tag matches. `If-Match: *` matches any existing object (RFC 9110;
S3's reference documents only entity tags for writes). ETags compare without their quotes, as S3
compares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
IF_MODIFIED_SINCE = "If-Modified-Since"
IF_UNMODIFIED_SINCE = "If-Unmodified-Since"
HEADERS = (IF_MATCH, IF_NONE_MATCH, IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE)


class Outcome(Enum):
    PROCEED = 200
    NOT_MODIFIED = 304
    NO_SUCH_KEY = 404
    PRECONDITION_FAILED = 412
    NOT_IMPLEMENTED = 501


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    header: str | None = None  # the condition that decided it (S3 names it in the error)


@dataclass(frozen=True)
class Current:
    """What the preconditions are checked against: the object as it is now."""

    etag: str
    last_modified: datetime


PROCEED = Verdict(Outcome.PROCEED)


def has_conditions(headers: Mapping[str, str]) -> bool:
    return any(headers.get(name) is not None for name in HEADERS)


def for_read(headers: Mapping[str, str], current: Current) -> Verdict:
    """GetObject / HeadObject of an existing object."""
    if_match = headers.get(IF_MATCH)
    if if_match is not None:
        if not _matches(if_match, current.etag, weak=False):
            return Verdict(Outcome.PRECONDITION_FAILED, IF_MATCH)
    else:
        since = _http_date(headers.get(IF_UNMODIFIED_SINCE))
        if since is not None and _seconds(current.last_modified) > since:
            return Verdict(Outcome.PRECONDITION_FAILED, IF_UNMODIFIED_SINCE)
    if_none_match = headers.get(IF_NONE_MATCH)
    if if_none_match is not None:
        if _matches(if_none_match, current.etag, weak=True):
            return Verdict(Outcome.NOT_MODIFIED, IF_NONE_MATCH)
    else:
        since = _http_date(headers.get(IF_MODIFIED_SINCE))
        if since is not None and _seconds(current.last_modified) <= since:
            return Verdict(Outcome.NOT_MODIFIED, IF_MODIFIED_SINCE)
    return PROCEED


def for_write(headers: Mapping[str, str], current: Current | None) -> Verdict:
    """PutObject / CopyObject / CompleteMultipartUpload onto a key that holds `current` (or not)."""
    if_match = headers.get(IF_MATCH)
    if_none_match = headers.get(IF_NONE_MATCH)
    if if_none_match is not None:
        if if_match is not None or if_none_match.strip() != "*":
            return Verdict(Outcome.NOT_IMPLEMENTED, IF_NONE_MATCH)
        if current is not None:
            return Verdict(Outcome.PRECONDITION_FAILED, IF_NONE_MATCH)
    if if_match is not None:
        if current is None:
            return Verdict(Outcome.NO_SUCH_KEY, IF_MATCH)
        if not _matches(if_match, current.etag, weak=False):
            return Verdict(Outcome.PRECONDITION_FAILED, IF_MATCH)
    return PROCEED


def _matches(field: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match / If-None-Match field value names the object's entity tag."""
    if field.strip() == "*":
        return True
    wanted = _unquote(etag)
    for tag in _entity_tags(field):
        if tag.startswith("W/"):
            if not weak:
                continue  # If-Match compares strongly: a weak tag never matches
            tag = tag[2:]
        if _unquote(tag) == wanted:
            return True
    return False


def _entity_tags(field: str) -> list[str]:
    """Split a comma-separated list of entity tags (a quoted tag may itself hold a comma)."""
    tags, current, quoted = [], "", False
    for char in field:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            tags.append(current.strip())
            current = ""
        else:
            current += char
    tags.append(current.strip())
    return [tag for tag in tags if tag]


def _unquote(tag: str) -> str:
    return tag.strip().strip('"')


def _http_date(value: str | None) -> datetime | None:
    """An HTTP-date, or None: an invalid date makes the condition ignored (RFC 9110)."""
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _seconds(moment: datetime) -> datetime:
    """HTTP dates have whole seconds; Last-Modified is compared at that resolution."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=0)
