"""The WSGI layers around moto, with fakes at the seams (no moto, no socket): refusals carry no
body on HEAD, and a change is acknowledged only once it is on disk."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from appliance.targets.local.s3_server import TOUCHED, require_signature, write_through


def call(app: Any, method: str, path: str = "/mlpipeline/key",
         **environ: Any) -> tuple[str, dict[str, str], bytes]:
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answered.update(status=status, headers=dict(headers))
        return lambda data: None

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", **environ},
                        start_response))
    return answered["status"], answered["headers"], body


def moto(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Stands in for moto: records a touched key (as the hook does) and answers 200."""
    if TOUCHED in environ:
        environ[TOUCHED].add(("mlpipeline", "key"))
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


class Mirror:
    def __init__(self, failure: Exception | None = None) -> None:
        self.synced: list[tuple[str, str | None]] = []
        self.failure = failure

    def sync(self, bucket: str, key: str | None) -> None:
        if self.failure is not None:
            raise self.failure
        self.synced.append((bucket, key))


def test_refusals_have_no_body_on_head_and_the_length_of_the_get() -> None:
    app = require_signature(moto)
    get_status, get_headers, get_body = call(app, "GET")
    head_status, head_headers, head_body = call(app, "HEAD")
    assert get_status.startswith("403") and b"<Code>AccessDenied</Code>" in get_body
    assert head_status.startswith("403") and head_body == b""
    assert head_headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))
    sigv2 = {"HTTP_AUTHORIZATION": "AWS key:signature"}
    assert call(app, "HEAD", **sigv2)[0].startswith("400") and call(app, "HEAD", **sigv2)[2] == b""


def test_a_change_is_acknowledged_after_it_was_saved() -> None:
    mirror = Mirror()
    status, _, body = call(write_through(moto, mirror), "PUT")  # type: ignore[arg-type]
    assert (status, body, mirror.synced) == ("200 OK", b"ok", [("mlpipeline", "key")])
    call(write_through(moto, mirror), "GET")  # type: ignore[arg-type]
    assert mirror.synced == [("mlpipeline", "key")]  # reads are not synced


def test_a_change_that_could_not_be_saved_is_not_acknowledged() -> None:
    mirror = Mirror(OSError(28, "No space left on device"))
    status, headers, body = call(write_through(moto, mirror), "PUT")  # type: ignore[arg-type]
    assert status.startswith("500") and headers["Content-Type"] == "application/xml"
    assert b"<Code>InternalError</Code>" in body and b"not durable" in body
