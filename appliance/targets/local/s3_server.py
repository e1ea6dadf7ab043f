"""The local object store: moto's S3 server on 127.0.0.1 with IAM authentication enforced.

Run as `python -m appliance.targets.local.s3_server --port P --run-dir DIR --bucket B ...`. The
per-stack access key is created inside this process before the socket opens, so there is no
window in which unauthenticated requests are accepted, and the secret never appears on a command
line: it is written to DIR/credentials.json (0600), which `appliance up` reads.

Around moto: requests whose Authorization header moto cannot verify are refused as S3 refuses
them (s3_auth); after moto has authenticated a request, its preconditions are decided with S3's
semantics (s3_conditions); every change is written through to DIR/objects before it is
acknowledged, and restored from there at start (s3_persistence).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from appliance.runtime.state import write_atomic
from appliance.targets.local import s3_auth, s3_conditions
from appliance.targets.local.s3_persistence import DIRECTORY, CorruptStore, Mirror, ObjectFiles

USER_NAME = "appliance"
REGION = "us-east-1"
_ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# Set by the moto hook on the WSGI environ: the (bucket, key or None) a request may have changed.
TOUCHED = "appliance.s3.touched"
_MUTATING = ("PUT", "POST", "DELETE")
# Query parameters that keep a GET/HEAD a plain GetObject/HeadObject (preconditions apply).
_READ_QUERY = ("versionId", "partNumber")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def s3_error(status: int, code: str, message: str, extra: dict[str, str] | None = None) -> Any:
    """An S3 error document as a WSGI response (werkzeug sends no body to HEAD, 204 and 304)."""
    from werkzeug.wrappers import Response

    request_id = uuid.uuid4().hex[:16].upper()
    fields = {"Code": code, "Message": message, **(extra or {}), "RequestId": request_id}
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(
        f"<{name}>{escape(value)}</{name}>" for name, value in fields.items()
    ) + "</Error>"
    return Response(body, status=status, content_type="application/xml",
                    headers={"x-amz-request-id": request_id})


def require_signature(app: WsgiApp) -> WsgiApp:
    """Refuse what moto's IAM check cannot verify (see s3_auth) and moto's admin API.

    moto answers an unsigned request or a non-SigV4 Authorization header with a 500, and its
    /moto-api/ endpoints (reset, state) bypass IAM entirely.
    """

    def guarded(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            refused: s3_auth.Refusal | None = s3_auth.Refusal(403, "AccessDenied", "Access Denied")
        else:
            refused = s3_auth.refusal(environ.get("HTTP_AUTHORIZATION"),
                                      environ.get("QUERY_STRING", ""),
                                      environ.get("HTTP_X_AMZ_DATE"))
        if refused is not None:
            answer = s3_error(refused.status, refused.code, refused.message, refused.extra)
            return answer(environ, start_response)
        return app(environ, start_response)

    return guarded


def atomic_conditional_writes(app: WsgiApp) -> WsgiApp:
    """Serialise conditional writes (If-Match / If-None-Match), as S3 makes them atomic.

    The precondition is checked (by the moto hook) and the object stored without a lock inside
    moto, so two concurrent compare-and-swap PUTs could both pass (the model registry relies on
    exactly one winning). Unconditional writes are not held back by this lock.
    """
    lock = threading.Lock()

    def serialised(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        conditional = environ.get("HTTP_IF_MATCH") or environ.get("HTTP_IF_NONE_MATCH")
        if conditional and environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return serialised


def write_through(app: WsgiApp, mirror: Mirror) -> WsgiApp:
    """Answer a request that may change objects only once the change is on disk."""

    def durable(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in _MUTATING:
            return app(environ, start_response)
        answer: list[Any] = []
        written: list[bytes] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return written.append

        environ[TOUCHED] = set()
        chunks = app(environ, hold)
        try:
            returned = b"".join(chunks)
            body = b"".join(written) + returned  # a WSGI app may write() before it returns
        finally:
            getattr(chunks, "close", lambda: None)()
        try:
            for bucket, key in sorted(environ[TOUCHED], key=lambda t: (t[0], t[1] or "")):
                mirror.sync(bucket, key)
        except (OSError, RuntimeError) as exc:
            print(f"object store: could not save a change to disk: {exc}", file=sys.stderr, flush=True)
            failed = s3_error(500, "InternalError", "The object store could not save the change "
                              f"to disk ({type(exc).__name__}); it is not durable")
            return failed(environ, start_response)
        start_response(*answer)
        return [body]

    return durable


def after_authorisation(response: Any, bucket: str | None, key: str | None) -> None:
    """Runs inside moto right after it authenticated and authorised a request.

    Records what a request may change (for write-through) and decides its preconditions with
    S3's semantics, answering 304/404/412/501 itself; a request that may proceed reaches moto
    without its conditional headers, so that moto's own (differing) checks do not run.
    """
    environ = response.headers.environ
    method = environ.get("REQUEST_METHOD")
    if bucket and method in _MUTATING and TOUCHED in environ:
        environ[TOUCHED].add((bucket, key))
    if not bucket or not key:
        return
    headers = {name: environ[_wsgi(name)] for name in s3_conditions.HEADERS if _wsgi(name) in environ}
    if not headers:
        return
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    reading = method in ("GET", "HEAD") and all(
        name in _READ_QUERY or name.startswith("response-") for name in query
    )
    writing = (method == "PUT" and not query) or (method == "POST" and "uploadId" in query)
    if not (reading or writing):
        return
    from moto.s3.models import FakeKey

    version = query.get("versionId", [None])[0] if reading else None
    found = response.backend.get_object(bucket, key, version_id=version)
    current = None
    if isinstance(found, FakeKey):
        current = s3_conditions.Current(found.etag, found.last_modified)
    for name in s3_conditions.HEADERS:
        environ.pop(_wsgi(name), None)
    if reading:
        if current is None:
            return  # moto answers 404 NoSuchKey, as S3 does before any precondition
        verdict = s3_conditions.for_read(headers, current)
    else:
        verdict = s3_conditions.for_write(headers, current)
    if verdict.outcome is not s3_conditions.Outcome.PROCEED:
        from werkzeug.exceptions import abort

        abort(_precondition_answer(verdict, current, key))


def _precondition_answer(verdict: s3_conditions.Verdict, current: s3_conditions.Current | None,
                         key: str) -> Any:
    from werkzeug.http import http_date
    from werkzeug.wrappers import Response

    outcome, header = verdict.outcome, verdict.header or ""
    if outcome is s3_conditions.Outcome.NOT_MODIFIED:
        assert current is not None
        return Response(status=304, headers={"ETag": current.etag,
                                             "Last-Modified": http_date(current.last_modified)})
    if outcome is s3_conditions.Outcome.NO_SUCH_KEY:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.", {"Key": key})
    if outcome is s3_conditions.Outcome.NOT_IMPLEMENTED:
        return s3_error(501, "NotImplemented", "A header you provided implies functionality that "
                        "is not implemented", {"Header": header})
    return s3_error(412, "PreconditionFailed", "At least one of the pre-conditions you specified "
                    "did not hold", {"Condition": header})


def _wsgi(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def install_moto_hook() -> None:
    """Call `after_authorisation` from moto's S3 authorisation step (the one place where moto
    has authenticated a request and parsed its bucket and key, and has not yet acted on it)."""
    from moto.s3.responses import S3Response

    authorise = S3Response._authenticate_and_authorize_s3_action
    if getattr(authorise, "appliance_hook", False):
        return

    def authorise_then_check(self: Any, bucket_name: str | None = None,
                             key_name: str | None = None) -> None:
        authorise(self, bucket_name=bucket_name, key_name=key_name)
        after_authorisation(self, bucket_name, key_name)

    authorise_then_check.appliance_hook = True  # type: ignore[attr-defined]
    S3Response._authenticate_and_authorize_s3_action = authorise_then_check  # type: ignore[method-assign]


def s3_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def provision(buckets: list[str]) -> dict[str, str]:
    """Create the stack's IAM user, key and buckets in moto's in-process backends."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    iam.create_user(region_name=REGION, user_name=USER_NAME)
    iam.put_user_policy(USER_NAME, "appliance-all", _ALLOW_ALL)
    key = iam.create_access_key(USER_NAME)
    s3 = s3_backend()
    for bucket in buckets:
        s3.create_bucket(bucket, REGION)
    return {
        "access_key": key.access_key_id,
        "secret_key": key.secret_access_key,
        "region": REGION,
    }


def serve(port: int, run_dir: Path, buckets: list[str]) -> None:
    from moto import settings
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """Request logs are noise for users (and could echo object keys)."""

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    credentials = provision(buckets)
    mirror = Mirror(s3_backend(), ObjectFiles(run_dir / DIRECTORY))
    restored = mirror.restore()
    mirror.record_buckets()
    install_moto_hook()
    # From here on every request is authenticated and authorised by moto's IAM emulation.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    moto_app = DomainDispatcherApplication(create_backend_app)
    app = require_signature(atomic_conditional_writes(write_through(moto_app, mirror)))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
    write_atomic(run_dir / "credentials.json", json.dumps(credentials, indent=2) + "\n", 0o600)

    def shutdown(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shutdown)
    print(f"object store listening on 127.0.0.1:{port} ({restored} objects restored)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        serve(args.port, args.run_dir, args.bucket)
    except (OSError, CorruptStore) as exc:
        print(f"object store failed to start: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
