"""Benchmark: stub-server v2 throughput and p50/p99 latency against a minimal echo kserve.Model.

Both servers run in this run, on 127.0.0.1, through the same kserve ModelServer setup
(stubs.server.serve); the client sends sequential v2 infer requests (one row, FP64 [1, 4]) on one
kept-alive connection. Rounds alternate between the two servers so that machine noise hits both.
Prints the figures and the ratio stub/echo (goal >= 0.9). Not a test: nothing is asserted.

Wall-clock figures swing with other load on the machine, so it also prints the median of the
per-round-pair throughput ratios and each server's CPU time per request (from /proc), which
other processes disturb far less.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stubs import model  # noqa: E402 - after the path fix so the script runs from anywhere

ROUNDS = 20
REQUESTS_PER_ROUND = 200
WARMUP = 200
ROW = [0.5, 0.1, 0.2, 0.2]


def serve_echo(port: int) -> None:
    """The baseline: a kserve.Model that returns its input tensor, served like the stub."""
    from stubs.kserve_compat import InferOutput, InferRequest, InferResponse, kserve
    from stubs.server import serve

    class Echo(kserve.Model):
        def __init__(self) -> None:
            super().__init__("echo")
            self.ready = True

        async def predict(
            self, payload: InferRequest, headers: Any = None, response_headers: Any = None
        ) -> InferResponse:
            tensor = payload.inputs[0]
            output = InferOutput("output-0", tensor.shape, tensor.datatype, data=tensor.data)
            return InferResponse(response_id=payload.id or "echo", model_name="echo", infer_outputs=[output])

    serve([Echo()], port)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} not ready")


def run_round(port: int, name: str, count: int) -> list[float]:
    body = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    ).encode()
    headers = {"content-type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("POST", f"/v2/models/{name}/infer", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"{name}: HTTP {response.status}")
    conn.close()
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc); 0.0 where /proc is unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--requests", type=int, default=REQUESTS_PER_ROUND)
    args = parser.parse_args()
    if args.serve_echo:
        serve_echo(args.serve_echo)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        artifact = str(Path(folder) / "bench.json")
        model.save(model.create("bench", "1", 0.89, {"a": 0.95, "b": 0.8}), artifact)
        ports = {"stub": free_port(), "echo": free_port()}
        commands = {
            "stub": [
                sys.executable,
                "-m",
                "stubs.server",
                "--model-uri",
                artifact,
                "--port",
                str(ports["stub"]),
            ],
            "echo": [sys.executable, str(Path(__file__).resolve()), "--serve-echo", str(ports["echo"])],
        }
        names = {"stub": "bench", "echo": "echo"}
        processes = {
            key: subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for key, argv in commands.items()
        }
        try:
            for key, process in processes.items():
                wait_ready(ports[key], process)
                run_round(ports[key], names[key], WARMUP)
            latencies: dict[str, list[float]] = {"stub": [], "echo": []}
            elapsed = {"stub": 0.0, "echo": 0.0}
            cpu = {"stub": 0.0, "echo": 0.0}
            pair_ratios = []
            for index in range(args.rounds):
                order = ("stub", "echo") if index % 2 == 0 else ("echo", "stub")
                rates = {}
                for key in order:
                    cpu_before = cpu_seconds(processes[key].pid)
                    started = time.perf_counter()
                    latencies[key] += run_round(ports[key], names[key], args.requests)
                    took = time.perf_counter() - started
                    cpu[key] += cpu_seconds(processes[key].pid) - cpu_before
                    elapsed[key] += took
                    rates[key] = args.requests / took
                pair_ratios.append(rates["stub"] / rates["echo"])
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                process.wait(timeout=30)
    stats = {key: summary(latencies[key], elapsed[key]) for key in latencies}
    total = args.rounds * args.requests
    print(f"v2 infer, 1 row FP64 [1,4], sequential on one keep-alive connection, {total} requests each")
    for key, label in (("echo", "baseline echo kserve.Model"), ("stub", "stub model server")):
        s = stats[key]
        print(f"  {label:28s} {s['rps']:8.1f} req/s  p50 {s['p50_ms']:.3f} ms  p99 {s['p99_ms']:.3f} ms")
    ratio = stats["stub"]["rps"] / stats["echo"]["rps"]
    print(f"  throughput ratio stub/echo: {ratio:.3f} (goal >= 0.9)")
    print(f"  median of {args.rounds} per-round throughput ratios: {statistics.median(pair_ratios):.3f}")
    if cpu["echo"] > 0:
        per_request = {key: 1000 * cpu[key] / total for key in cpu}
        print(
            f"  server CPU per request: echo {per_request['echo']:.3f} ms, stub {per_request['stub']:.3f} ms,"
            f" ratio echo/stub {per_request['echo'] / per_request['stub']:.3f}"
        )
    print(
        f"  p50 ratio echo/stub: {stats['echo']['p50_ms'] / stats['stub']['p50_ms']:.3f}, "
        f"p99 ratio echo/stub: {stats['echo']['p99_ms'] / stats['stub']['p99_ms']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
