"""The model registry in the object store: a champion pointer per model, its history and every
gate decision, moved only by conditional writes (compare-and-swap on the pointer object).

Layout under the bucket (default `mlpipeline`):

    registry/<model>/champion.json            the head record: the current champion
    registry/<model>/history/<revision>.json  one immutable record per pointer move (8 digits)
    registry/<model>/decisions/<id>.json      every gate decision, promoted or not

Concurrency: the head is replaced only with `If-Match: <etag it was read with>` (or created with
`If-None-Match: *`), so of two concurrent moves from the same head exactly one wins; the loser
re-reads. A history record is written after its head with `If-None-Match: *`, and every writer
first back-fills the record of the head it replaces, so an entry is never lost even when a
writer dies between the two writes. A gate decision names the champion revision it was
evaluated against, and `promote` refuses it once the champion has moved (StaleDecision).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from appliance.errors import BadInput, CheckFailed, MissingPrerequisite
from appliance.gates.decision import Decision, evaluate
from appliance.gates.policy import Policy

if TYPE_CHECKING:  # the minio import behind ObjectStore costs pipeline tasks half a second
    from appliance.objectstore import ObjectStore

DEFAULT_BUCKET = "mlpipeline"
PREFIX = "registry"
# A DNS label of at most 45 characters: exactly the deployment-name rule, because
# `appliance serve sync MODEL` serves a model as the deployment of the same name
# (appliance/serving/deployments.py uses this pattern).
MODEL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,43}[a-z0-9])?$")
MAX_ATTEMPTS = 20


class StaleDecision(CheckFailed):
    """The champion moved after the decision was made: evaluate the challenger again."""


class CorruptObject(CheckFailed):
    """A registry object that is not the JSON document its key promises (edited by hand)."""


class StoreUnreachable(MissingPrerequisite):
    """The object store did not answer: the stack is down or restarting."""


class Conflict(Exception):
    """A conditional write lost (HTTP 412, or 409 for a concurrent conditional write)."""


@dataclass(frozen=True)
class Entry:
    """A registered model version: where it is and what it measured."""

    version: str
    model_uri: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "model_uri": self.model_uri, "metrics": self.metrics}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(str(data["version"]), str(data["model_uri"]), dict(data.get("metrics") or {}))


@dataclass(frozen=True)
class Record:
    """One position of the champion pointer. `previous` is the revision whose entry a rollback
    returns to; `nonce` identifies the write (a retried request that already landed)."""

    model: str
    revision: int
    action: str
    entry: Entry
    previous: int | None
    decision: str | None
    at: str
    nonce: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "revision": self.revision,
            "action": self.action,
            "entry": self.entry.to_dict(),
            "previous": self.previous,
            "decision": self.decision,
            "at": self.at,
            "nonce": self.nonce,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        previous = data.get("previous")
        return cls(
            model=str(data["model"]),
            revision=int(data["revision"]),
            action=str(data["action"]),
            entry=Entry.from_dict(data["entry"]),
            previous=None if previous is None else int(previous),
            decision=data.get("decision"),
            at=str(data.get("at", "")),
            nonce=str(data.get("nonce", "")),
        )


class Bucket:
    """The few S3 operations the registry needs, over boto3 (conditional PUT, GET, LIST)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def get(self, key: str) -> tuple[bytes, str] | None:
        with _reachable(self.client):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except self.client.exceptions.NoSuchKey:
                return None
            return response["Body"].read(), str(response["ETag"])

    def put(self, key: str, body: bytes, *, if_match: str | None = None,
            if_absent: bool = False) -> None:
        conditions: dict[str, str] = {}
        if if_match is not None:
            conditions["IfMatch"] = if_match
        if if_absent:
            conditions["IfNoneMatch"] = "*"
        try:
            with _reachable(self.client):
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType="application/json",
                    **conditions,
                )
        except self.client.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            # 412 PreconditionFailed: the condition did not hold. 409 ConditionalRequestConflict:
            # S3's answer to simultaneous conditional writes. NoSuchKey: If-Match on a deleted key.
            if conditions and code in ("PreconditionFailed", "ConditionalRequestConflict",
                                       "NoSuchKey", "412", "409"):
                raise Conflict(key) from exc
            raise

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        with _reachable(self.client):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                found += [str(item["Key"]) for item in page.get("Contents", [])]
        return sorted(found)

    def prefixes(self, prefix: str) -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        with _reachable(self.client):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                found += [str(item["Prefix"]) for item in page.get("CommonPrefixes", [])]
        return sorted(found)


@contextmanager
def _reachable(client: Any) -> Iterator[None]:
    """Connection failures become one StoreUnreachable line instead of a urllib3 traceback."""
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except BotoConnectionError as exc:
        url = getattr(getattr(client, "meta", None), "endpoint_url", "") or "(unknown)"
        raise StoreUnreachable(f"object store {url} unreachable",
                               " ".join(str(exc).split()),
                               "appliance status / appliance up") from exc


def _record(key: str, body: bytes) -> Record:
    """Decode a champion or history record; anything else is a CorruptObject naming the key."""
    data = _document(key, body)
    try:
        return Record.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptObject(f"registry object {key} is corrupt",
                            f"not a registry record ({type(exc).__name__}: {exc})",
                            _CORRUPT_FIX) from exc


def _document(key: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptObject(f"registry object {key} is corrupt", f"not JSON ({exc})",
                            _CORRUPT_FIX) from exc
    if not isinstance(data, dict):
        raise CorruptObject(f"registry object {key} is corrupt",
                            f"a JSON object was expected, found {type(data).__name__}",
                            _CORRUPT_FIX)
    return data


_CORRUPT_FIX = "restore or delete the object (it was edited outside the registry)"


def s3_client(store: ObjectStore | None = None) -> Any:
    """A boto3 S3 client for the store, or from AWS_* environment variables (inside tasks)."""
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"})
    # A session of its own: boto3's default session is not safe to create clients from in
    # several threads at once (clients themselves are).
    session = boto3.session.Session()
    if store is None:
        return session.client("s3", config=config)
    return session.client(
        "s3",
        endpoint_url=store.endpoint,
        aws_access_key_id=store.access_key,
        aws_secret_access_key=store.secret_key,
        region_name=store.region,
        config=config,
    )


def check_model_name(model: str) -> str:
    if not isinstance(model, str) or not MODEL_NAME.match(model):
        raise BadInput(
            f"invalid model name {model!r}",
            "model names are DNS labels: 1-45 lowercase letters, digits or '-', starting and "
            "ending alphanumeric (a model is served as the deployment of the same name)",
            f"use a name such as {_suggest(model)!r}",
        )
    return model


def _suggest(model: object) -> str:
    """The invalid name made valid ('My_Model.v2' -> 'my-model-v2'), else a stock example."""
    text = str(model).lower() if isinstance(model, str) else ""
    candidate = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:45].rstrip("-")
    return candidate if MODEL_NAME.match(candidate) else "churn-v2"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Registry:
    """Champion pointer, history and decisions per model, in one bucket of the object store."""

    def __init__(self, store: ObjectStore | None = None, *, client: Any = None,
                 bucket: str | None = None, clock: Callable[[], str] = _now) -> None:
        chosen = bucket or (store.bucket if store is not None else DEFAULT_BUCKET)
        self.objects = Bucket(client if client is not None else s3_client(store), chosen)
        self.clock = clock

    @classmethod
    def from_env(cls, bucket: str = DEFAULT_BUCKET) -> Registry:
        """Inside pipeline tasks: the store named by AWS_ENDPOINT_URL and AWS_* credentials."""
        return cls(client=s3_client(None), bucket=bucket)

    # -- keys ---------------------------------------------------------------------------------
    @staticmethod
    def head_key(model: str) -> str:
        return f"{PREFIX}/{check_model_name(model)}/champion.json"

    @staticmethod
    def history_key(model: str, revision: int) -> str:
        return f"{PREFIX}/{check_model_name(model)}/history/{revision:08d}.json"

    @staticmethod
    def decision_key(model: str, decision_id: str) -> str:
        return f"{PREFIX}/{check_model_name(model)}/decisions/{decision_id}.json"

    # -- reads --------------------------------------------------------------------------------
    def models(self) -> list[str]:
        return [p[len(PREFIX) + 1:].rstrip("/") for p in self.objects.prefixes(f"{PREFIX}/")]

    def _head(self, model: str) -> tuple[Record | None, str | None]:
        found = self.objects.get(self.head_key(model))
        if found is None:
            return None, None
        body, etag = found
        return _record(self.head_key(model), body), etag

    def head(self, model: str) -> Record | None:
        """The pointer record: the current champion with its revision."""
        return self._head(model)[0]

    def champion(self, model: str) -> Entry | None:
        head = self.head(model)
        return None if head is None else head.entry

    def record(self, model: str, revision: int) -> Record | None:
        key = self.history_key(model, revision)
        found = self.objects.get(key)
        return None if found is None else _record(key, found[0])

    def history(self, model: str) -> list[Record]:
        """Every pointer move, oldest first (the head is included even if its history record
        has not been written yet)."""
        records = {}
        for key in self.objects.keys(f"{PREFIX}/{check_model_name(model)}/history/"):
            found = self.objects.get(key)
            if found is not None:
                record = _record(key, found[0])
                records[record.revision] = record
        head = self.head(model)
        if head is not None:
            records.setdefault(head.revision, head)
        return [records[r] for r in sorted(records)]

    def decisions(self, model: str) -> list[dict[str, Any]]:
        """Every recorded gate decision, oldest first."""
        found = []
        for key in self.objects.keys(f"{PREFIX}/{check_model_name(model)}/decisions/"):
            item = self.objects.get(key)
            if item is not None:
                found.append(_document(key, item[0]))
        return found

    # -- decisions ----------------------------------------------------------------------------
    def gate(self, model: str, entry: Entry, policy: Policy) -> Decision:
        """Evaluate the challenger against the current champion and record the decision."""
        check_model_name(model)
        head = self.head(model)
        champion = None if head is None else head.entry.metrics
        decision = evaluate(policy, entry.metrics, champion)
        return self.record_decision(model, entry, decision.bound_to(
            None if head is None else head.revision))

    def record_decision(self, model: str, entry: Entry, decision: Decision) -> Decision:
        """Store a decision (immutable, under a fresh id) and return it carrying that id."""
        at = self.clock()
        stamp = re.sub(r"[^0-9TZ]", "", at)
        decided = replace(decision, id=f"{stamp}-{uuid.uuid4().hex[:8]}")
        document = {"model": model, "at": at, "challenger": entry.to_dict(), **decided.to_dict()}
        self.objects.put(self.decision_key(model, str(decided.id)), _json(document),
                         if_absent=True)
        return decided

    # -- pointer moves ------------------------------------------------------------------------
    def promote(self, model: str, entry: Entry, decision: Decision | None) -> Record:
        """Make `entry` the champion. With a decision: only if it says promote and the champion
        is still the one it was evaluated against. Without one (a manual promotion): always,
        retrying when another writer moves the pointer first."""
        check_model_name(model)
        if decision is not None and not decision.promote:
            failed = ", ".join(f"{r.rule}({r.metric})" for r in decision.failed)
            raise CheckFailed(f"not promoting {model} {entry.version}",
                              f"the gate rejected it: {failed}")
        for _ in range(MAX_ATTEMPTS):
            head, etag = self._head(model)
            current = None if head is None else head.revision
            if decision is not None and decision.champion_revision != current:
                raise StaleDecision(
                    f"not promoting {model} {entry.version}: the champion moved",
                    f"the decision was made against revision {decision.champion_revision}, "
                    f"the registry is at revision {current}",
                    "evaluate the challenger again (Registry.gate_and_promote does this)",
                )
            new = Record(model, (current or 0) + 1, "promote", entry, current,
                         None if decision is None else decision.id, self.clock(),
                         uuid.uuid4().hex)
            if self._move(model, head, etag, new):
                return new
        raise CheckFailed(f"could not promote {model}: the pointer kept moving",
                          f"{MAX_ATTEMPTS} conflicting writes in a row", "try again")

    def gate_and_promote(self, model: str, entry: Entry,
                         policy: Policy) -> tuple[Decision, Record | None]:
        """Gate, and promote if it passes; when the champion moves meanwhile, gate again."""
        for _ in range(MAX_ATTEMPTS):
            decision = self.gate(model, entry, policy)
            if not decision.promote:
                return decision, None
            try:
                return decision, self.promote(model, entry, decision)
            except StaleDecision:
                continue
        raise CheckFailed(f"could not promote {model}: the champion kept moving",
                          f"{MAX_ATTEMPTS} stale decisions in a row", "try again")

    def rollback(self, model: str) -> Record:
        """Move the pointer back to the champion the current one replaced."""
        for _ in range(MAX_ATTEMPTS):
            head, etag = self._head(model)
            if head is None:
                # Bad input, as `registry show` of an unknown model: nothing to roll back.
                raise BadInput(f"cannot roll back {model}: it has no champion",
                                  "nothing was ever promoted", "promote a model first")
            if head.previous is None:
                raise CheckFailed(
                    f"cannot roll back {model}: revision {head.revision} "
                    f"({head.entry.version}) has no predecessor",
                    "it is the first champion", "promote another model instead",
                )
            target = self.record(model, head.previous)
            if target is None:
                raise CheckFailed(f"cannot roll back {model}: history record {head.previous} "
                                  "is missing", "the registry was edited by hand",
                                  f"inspect {self.history_key(model, head.previous)}")
            new = Record(model, head.revision + 1, "rollback", target.entry, target.previous,
                         None, self.clock(), uuid.uuid4().hex)
            if self._move(model, head, etag, new):
                return new
        raise CheckFailed(f"could not roll back {model}: the pointer kept moving",
                          f"{MAX_ATTEMPTS} conflicting writes in a row", "try again")

    def _move(self, model: str, head: Record | None, etag: str | None, new: Record) -> bool:
        """Compare-and-swap the pointer from `head` to `new`; False when another writer won."""
        if head is not None:
            # Back-fill the record being replaced: its writer may have died before writing it.
            self._write_history(head)
        try:
            if etag is None:
                self.objects.put(self.head_key(model), _json(new.to_dict()), if_absent=True)
            else:
                self.objects.put(self.head_key(model), _json(new.to_dict()), if_match=etag)
        except Conflict:
            # A retried request of ours may have landed before its answer was lost.
            current = self.head(model)
            if current is None or current.nonce != new.nonce:
                return False
        self._write_history(new)
        return True

    def _write_history(self, record: Record) -> None:
        try:
            self.objects.put(self.history_key(record.model, record.revision),
                             _json(record.to_dict()), if_absent=True)
        except Conflict:
            pass  # already written (by its own writer or a back-fill): records are immutable


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
