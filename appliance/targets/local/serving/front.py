"""The stable front of one deployment: a keep-alive HTTP proxy whose backend switches on SIGHUP.

`python -m appliance.targets.local.serving.front --name NAME --port P --config FILE --run-dir DIR`

The front listens on 127.0.0.1:P for the deployment's whole life. Its backend (the current model
server) is named in a JSON config file, `{"backend": "http://127.0.0.1:Q", "generation": N}`,
written by the lifecycle (appliance/serving/deployments.py) and re-read on SIGHUP. A switch is
atomic for new requests; requests already forwarded finish on the old backend, whose in-flight
count `GET /-/front` reports so that the lifecycle stops the old server only once it is drained.
Control is a signal plus a file in the stack's 0700 run dir, so only the stack's owner can
redirect traffic; nothing listens for control requests.

The front accepts what KServe v2 clients send (see `admit`): JSON sent without a JSON content type
(curl -d, tritonclient with binary_data=False) is forwarded as application/json, binary tensor
requests pass through, and a compressed body is refused with 415 rather than misread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
from yarl import URL

from appliance.runtime.process import LOOPBACK
from appliance.serving.endpoint import FRONT_STATUS_PATH as STATUS_PATH

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus the ones the next hop
# recomputes; forwarding them would corrupt keep-alive or framing on the other connection.
_HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection",
        b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length",
    }
)
_DROP_FROM_RESPONSE = _HOP_BY_HOP | {b"date", b"server"}  # uvicorn sets its own

# The model server closes idle keep-alive connections after 5 s (uvicorn's default); expiring ours
# sooner means the pool never hands out a connection the server is about to close.
_POOL_SIZE = 256
_IDLE_EXPIRY = 2.0
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=300.0)
# Only what the client sent is forwarded: no added Accept-Encoding, so no compressed answer a
# client did not ask for.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent")
# Clients of the front keep connections longer than uvicorn's 5 s default (nginx uses 75 s).
CLIENT_KEEP_ALIVE = 75
# kserve 0.21 parses a body as JSON only when its Content-Type is exactly one of these
# (kserve.protocol.dataplane.JSON_HEADERS; FastAPI's strict content type for v2): any other body,
# a missing Content-Type included, reaches the model server as bytes, which v2 takes for a binary
# tensor request and v1 hands to the model undecoded.
_KSERVE_JSON_TYPES = frozenset({"application/json", "application/cloudevents+json", "application/ld+json"})
_BINARY_HEADER = "inference-header-content-length"  # KServe v2 binary tensor extension


class Unsupported(Exception):
    """A request the front cannot forward as sent (answered 415 with this message)."""


def admit(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """The headers to forward with `body`: JSON gets the content type kserve parses as JSON.

    Raises Unsupported for a compressed body: kserve does not decode Content-Encoding, so it would
    misread the bytes.
    """
    if not body:
        return headers
    fields = {name.lower(): value.strip() for name, value in headers}
    coding = fields.get("content-encoding", "identity").lower()
    if coding not in ("", "identity"):
        raise Unsupported(
            f"a request body with Content-Encoding {coding} cannot be served: the model server "
            "reads request bodies uncompressed; send it without compression"
        )
    if _BINARY_HEADER in fields or fields.get("content-type") in _KSERVE_JSON_TYPES:
        return headers
    try:
        json.loads(body)
    except ValueError:  # not JSON: the model server answers it (e.g. 400 naming what is missing)
        return headers
    kept = [(name, value) for name, value in headers if name.lower() != "content-type"]
    return [*kept, ("Content-Type", "application/json")]


class ConfigError(Exception):
    """The front's config file is missing or malformed."""


class Backend:
    """One model server behind the front, with its own connection pool and in-flight count."""

    def __init__(self, url: str, generation: int) -> None:
        self.url = url
        self.generation = generation
        self.inflight = 0
        self.served = 0
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Created on first use: an aiohttp session belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=_POOL_SIZE, keepalive_timeout=_IDLE_EXPIRY)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=_TIMEOUT, auto_decompress=False,
                skip_auto_headers=_SKIP_AUTO_HEADERS, trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "generation": self.generation,
            "inflight": self.inflight,
            "served": self.served,
        }


def read_config(path: Path) -> tuple[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        backend, generation = data["backend"], data["generation"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(backend, str) or not backend.startswith(f"http://{LOOPBACK}:"):
        raise ConfigError(f"{path}: backend must be http://{LOOPBACK}:PORT, found {backend!r}")
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise ConfigError(f"{path}: generation must be an integer, found {generation!r}")
    return backend.rstrip("/"), generation


class Front:
    """The ASGI app: forwards every request to the current backend, answers /-/front itself."""

    def __init__(self, name: str, config: Path) -> None:
        self.name = name
        self.config = config
        url, generation = read_config(config)
        self.current = Backend(url, generation)
        self.retired: list[Backend] = []
        self._closing: set[asyncio.Task[None]] = set()

    def reload(self) -> None:
        """Switch to the backend in the config file (called from the event loop on SIGHUP)."""
        try:
            url, generation = read_config(self.config)
        except ConfigError as exc:
            print(f"front {self.name}: reload refused, keeping {self.current.url}: {exc}", file=sys.stderr)
            return
        if url == self.current.url:
            self.current.generation = generation
            return
        # No await between reading and replacing `current`: every request either picked the old
        # backend (and is counted in its inflight) or will pick the new one.
        old, self.current = self.current, Backend(url, generation)
        self.retired.append(old)
        self._retire_if_idle(old)
        print(f"front {self.name}: generation {generation} -> {url}", file=sys.stderr, flush=True)

    def _retire_if_idle(self, backend: Backend) -> None:
        if backend in self.retired and backend.inflight == 0:
            self.retired.remove(backend)
            task = asyncio.get_running_loop().create_task(backend.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "generation": self.current.generation,
            "backend": self.current.url,
            "backends": [b.to_dict() for b in (self.current, *self.retired)],
        }

    async def aclose(self) -> None:
        for backend in (self.current, *self.retired):
            await backend.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == STATUS_PATH and scope["method"] == "GET":
            await _respond(send, 200, [(b"content-type", b"application/json")],
                           json.dumps(self.status()).encode())
            return
        body = await _read_body(receive)
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k.lower() not in _HOP_BY_HOP]
        try:
            headers = admit(headers, body)
        except Unsupported as exc:
            error = {"error": f"front of {self.name}: {exc}"}
            await _respond(send, 415, [(b"content-type", b"application/json")], json.dumps(error).encode())
            return
        status, response_headers, content = await self._forward(
            scope["method"], target.decode("latin-1"), headers, body
        )
        await _respond(send, status, response_headers, content)

    async def _forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        failure = ""
        for _attempt in range(2):
            backend = self.current
            backend.inflight += 1
            try:
                # encoded=True: the path goes on exactly as the client wrote it.
                url = URL(backend.url + target, encoded=True)
                async with backend.session().request(method, url, data=body, headers=headers,
                                                     allow_redirects=False) as response:
                    content = await response.read()  # raw: auto_decompress is off
                    kept = [(k, v) for k, v in response.raw_headers if k.lower() not in _DROP_FROM_RESPONSE]
                    backend.served += 1
                    return response.status, kept, content
            except (TimeoutError, aiohttp.ServerTimeoutError):
                failure = "the model server did not answer in time"
                break
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                # Refused, reset or closed before a whole answer. Inference requests have no side
                # effects, so the front retries once, on the then-current backend (as Envoy does).
                failure = f"{type(exc).__name__}: {exc}"
            except aiohttp.ClientError as exc:  # anything else the client refuses: no retry
                failure = f"{type(exc).__name__}: {exc}"
                break
            finally:
                backend.inflight -= 1
                self._retire_if_idle(backend)
        error = {"error": f"front of {self.name}: model server unavailable ({failure})"}
        return 502, [(b"content-type", b"application/json")], json.dumps(error).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


async def serve(front: Front, port: int) -> None:
    config = uvicorn.Config(
        front,
        host=LOOPBACK,
        port=port,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=CLIENT_KEEP_ALIVE,
        # Requests in flight get this long to finish on SIGTERM before connections are cut.
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    # Installed before the socket opens: the lifecycle only signals a front that answers.
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, front.reload)
    try:
        await server.serve()
    finally:
        await front.aclose()
    if not server.started:
        raise SystemExit(f"front {front.name}: could not listen on {LOOPBACK}:{port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.targets.local.serving.front",
                                     description="Stable keep-alive front proxy of one deployment.")
    parser.add_argument("--name", required=True, help="deployment name")
    parser.add_argument("--port", required=True, type=int, help=f"port on {LOOPBACK}")
    parser.add_argument("--config", required=True, type=Path, help="JSON file naming the backend")
    parser.add_argument("--run-dir", required=True, help="the stack's run dir (lets `down` find us)")
    args = parser.parse_args(argv)
    try:
        front = Front(args.name, args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop
    except ImportError:  # uvloop is optional: it is faster, asyncio is enough
        asyncio.run(serve(front, args.port))
    else:
        uvloop.run(serve(front, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
