"""Benchmark the serving front proxy: latency and throughput through the front vs straight to the server.

Both are measured in this run against the same stub model server (python -m stubs.server), so the
ratios say what the front costs on this machine. Run: .venv/bin/python scripts/bench_serving.py
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from appliance.runtime import process
from appliance.runtime.state import write_atomic
from stubs import model as stub_model

BODY = json.dumps({"instances": [[0.5, 0.2, 0.1, 0.1], [-0.5, 1.2, 0.3, 0.7]]}).encode()
HEADERS = {"content-type": "application/json"}


def sequential(port: int, requests: int) -> list[float]:
    """Latencies (ms) of back-to-back requests on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        conn.request("POST", "/v1/models/bench:predict", BODY, HEADERS)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}")
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


async def concurrent(port: int, clients: int, seconds: float) -> tuple[int, int]:
    """(answered, failed) for `clients` keep-alive connections posting for `seconds`."""
    url = f"http://127.0.0.1:{port}/v1/models/bench:predict"
    counts = [0, 0]
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while time.monotonic() < deadline:
                try:
                    async with session.post(url, data=BODY, headers=HEADERS) as response:
                        await response.read()
                        counts[0 if response.status == 200 else 1] += 1
                except aiohttp.ClientError:
                    counts[1] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return counts[0], counts[1]


def wait_http(port: int, path: str, pid: int, log: Path) -> None:
    def ok() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            return conn.getresponse().status == 200
        except OSError:
            return False

    def died() -> str | None:
        return None if process.is_alive(pid) else log.read_text()

    if not process.wait_until(ok, 120, 0.05, abort=died):
        raise SystemExit(f"not ready: {log.read_text()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per target")
    parser.add_argument("--clients", type=int, default=50, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of the concurrent phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        uri = stub_model.save(stub_model.create("bench", "1", 1.0), str(root / "model.json"))
        server_port, front_port = process.free_port(), process.free_port()
        server_log, front_log = root / "server.log", root / "front.log"
        server = process.spawn([sys.executable, "-m", "stubs.server", "--model-uri", uri, "--port",
                                str(server_port), "--name", "bench", "--run-dir", tmp], server_log)
        config = root / "front.json"
        write_atomic(config, json.dumps({"backend": f"http://127.0.0.1:{server_port}", "generation": 1}))
        front = process.spawn([sys.executable, "-m",
            "appliance.targets.local.serving.front", "--name", "bench", "--port",
                               str(front_port), "--config", str(config), "--run-dir", tmp], front_log)
        try:
            wait_http(server_port, "/v2/models/bench/ready", server, server_log)
            wait_http(front_port, "/v2/models/bench/ready", front, front_log)
            sequential(server_port, 100)
            sequential(front_port, 100)  # warm both paths up
            results = {}
            for label, port in (("direct", server_port), ("front", front_port)):
                times = sorted(sequential(port, args.requests))
                answered, failed = asyncio.run(concurrent(port, args.clients, args.seconds))
                results[label] = {
                    "p50_ms": statistics.median(times),
                    "p99_ms": times[int(len(times) * 0.99) - 1],
                    "rps": answered / args.seconds,
                    "failed": failed,
                }
        finally:
            process.stop(front)
            process.stop(server)
    for label, row in results.items():
        print(f"{label:<7} sequential p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms   "
              f"{args.clients} clients: {row['rps']:.0f} req/s, {row['failed']} failed")
    direct, front_row = results["direct"], results["front"]
    print(f"ratio front/direct: p50 latency x{front_row['p50_ms'] / direct['p50_ms']:.2f}, "
          f"throughput x{front_row['rps'] / direct['rps']:.2f}")
    return 1 if direct["failed"] or front_row["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
