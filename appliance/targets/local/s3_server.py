"""The local object store: moto's S3 server on 127.0.0.1 with IAM authentication enforced.

Run as `python -m appliance.targets.local.s3_server --port P --run-dir DIR --bucket B ...`. The
per-stack access key is created inside this process before the socket opens, so there is no
window in which unauthenticated requests are accepted, and the secret never appears on a command
line: it is written to DIR/credentials.json (0600), which `appliance up` reads.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from appliance.runtime.state import write_atomic

USER_NAME = "appliance"
REGION = "us-east-1"
_ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied: a signed request is required</Message></Error>"
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def _is_signed(environ: Environ) -> bool:
    # moto's IAM emulation verifies only header signatures; presigned URLs (query signatures)
    # would crash it with a 500, so they are refused like unsigned requests (documented).
    return bool(environ.get("HTTP_AUTHORIZATION"))


def require_signature(app: WsgiApp) -> WsgiApp:
    """Answer 403 to requests without a signed Authorization header and to moto's admin API.

    moto answers an unsigned request with a 500 (it looks the Authorization header up without a
    default), and its /moto-api/ endpoints (reset, state) bypass IAM entirely.
    """

    def guarded(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api") or not _is_signed(environ):
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(_DENIED)))],
            )
            return [_DENIED]
        return app(environ, start_response)

    return guarded


def atomic_conditional_writes(app: WsgiApp) -> WsgiApp:
    """Serialise conditional writes (If-Match / If-None-Match), as S3 makes them atomic.

    moto checks the condition and then stores the object without a lock, so two concurrent
    compare-and-swap PUTs could both pass (the model registry relies on exactly one winning).
    Unconditional writes are not held back by this lock.
    """
    lock = threading.Lock()

    def serialised(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        conditional = environ.get("HTTP_IF_MATCH") or environ.get("HTTP_IF_NONE_MATCH")
        if conditional and environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return serialised


def provision(buckets: list[str]) -> dict[str, str]:
    """Create the stack's IAM user, key and buckets in moto's in-process backends."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    iam.create_user(region_name=REGION, user_name=USER_NAME)
    iam.put_user_policy(USER_NAME, "appliance-all", _ALLOW_ALL)
    key = iam.create_access_key(USER_NAME)
    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
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
    # From here on every request is authenticated and authorised by moto's IAM emulation.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    app = require_signature(atomic_conditional_writes(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
    write_atomic(run_dir / "credentials.json", json.dumps(credentials, indent=2) + "\n", 0o600)

    def shutdown(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shutdown)
    print(f"object store listening on 127.0.0.1:{port}", flush=True)
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
    except OSError as exc:
        print(f"object store failed to start: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
