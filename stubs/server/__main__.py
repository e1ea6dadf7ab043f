"""`python -m stubs.server --model-uri URI --port P [--name NAME]`: serve one stub artifact."""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from stubs import model as models
from stubs.errors import StubError

LOOPBACK = "127.0.0.1"
# Linux's default net.ipv4.ip_unprivileged_port_start: lower ports need privileges to bind.
_FIRST_UNPRIVILEGED = 1024


def _probe(host: str, port: int) -> None:
    """Bind (host, port) as uvicorn will and release it; raises the OSError the bind raised."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        probe.bind((host, port))


def bind_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on (host, port), or None when it can.

    Checked up front for a clear message; uvicorn would log a bind error and exit 3 later.
    """
    try:
        _probe(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is in use: pick another --port"
        if exc.errno == errno.EACCES:
            if port < _FIRST_UNPRIVILEGED:
                return (
                    f"port {port} on {host}: permission denied (ports below "
                    f"{_FIRST_UNPRIVILEGED} need root or CAP_NET_BIND_SERVICE): "
                    f"pick a --port from {_FIRST_UNPRIVILEGED} up"
                )
            return f"port {port} on {host}: permission denied: pick another --port"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"cannot listen on {host}: not an address of this machine: use --host {LOOPBACK}"
        reason = exc.strerror or str(exc)
        return f"cannot listen on {host} port {port}: {reason}: check --host and --port"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stubs.server",
        description="Serve a stub model over KServe v1 and v2 REST on 127.0.0.1.",
    )
    parser.add_argument("--model-uri", required=True, help="artifact: path or s3://bucket/key")
    parser.add_argument("--port", required=True, type=int, help="HTTP port")
    parser.add_argument("--name", default=None, help="served model name (default: the artifact's)")
    parser.add_argument("--host", default=LOOPBACK, help="bind address (0.0.0.0 only in a container)")
    parser.add_argument("--run-dir", default=None, help="ignored: lets the appliance find its processes")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port} is invalid: use 1-65535", file=sys.stderr)
        return 2
    if args.name is not None and not models.NAME_PATTERN.match(args.name):
        print(f"error: --name {args.name!r} is invalid: use a DNS label", file=sys.stderr)
        return 2
    problem = bind_problem(args.host, args.port)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        # Load before importing kserve: a broken artifact fails in well under a second.
        loaded = models.load(args.model_uri)
    except StubError as exc:
        return exc.report()

    from stubs.server.kserve_model import StubModel, serve

    stub = StubModel(args.name, args.model_uri, loaded)
    stub.load()
    serve([stub], args.port, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
