"""Benchmark `appliance review` against Checkov on the same upstream manifests, in the same run.

Checkov runs from its own venv (.bench-venv-checkov under the repo, created on first use), never
as a dependency of the appliance. Prints seconds, objects reviewed and the ratio per file.

Usage: .venv/bin/python scripts/bench_review.py [--runs N] [--no-checkov]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from appliance.review import review  # noqa: E402
from appliance.review.loader import load_paths, load_text  # noqa: E402

VENV = REPO / ".bench-venv-checkov"
FILES = ("kubeflow-platform-example-26.03.yaml", "kfp-platform-agnostic-2.17.0.yaml")


def upstream_dir() -> Path:
    configured = os.environ.get("APPLIANCE_UPSTREAM")
    return Path(configured) if configured else REPO.parent / "shared" / "upstream"


def ours(path: Path, runs: int) -> tuple[float, int, int]:
    """Median seconds of load + review, objects reviewed, findings."""
    times = []
    objects = findings = 0
    for _ in range(runs):
        started = time.perf_counter()
        report = review(load_paths([str(path)]))
        times.append(time.perf_counter() - started)
        objects, findings = report.inventory.objects, len(report.findings)
    return statistics.median(times), objects, findings


def checkov_binary() -> Path | None:
    binary = VENV / "bin" / "checkov"
    if binary.exists():
        return binary
    print(f"installing checkov into {VENV} (once) ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "checkov"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"checkov could not be installed: {exc}", file=sys.stderr)
        return None
    return binary if binary.exists() else None


def checkov(binary: Path, args: list[str]) -> tuple[float, int, int]:
    """Seconds, resources Checkov reviewed, failed checks."""
    # Checkov skips files over 5 MB unless told otherwise; 0 lifts the limit.
    env = {**os.environ, "CHECKOV_MAX_FILE_SIZE": "0"}
    command = [str(binary), *args, "--framework", "kubernetes", "--skip-download", "--quiet",
               "-o", "json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    data = json.loads(done.stdout or "{}")
    reports = data if isinstance(data, list) else [data]
    resources = sum(int(r.get("summary", r).get("resource_count", 0)) for r in reports)
    failed = sum(int(r.get("summary", r).get("failed", 0)) for r in reports)
    return seconds, resources, failed


def split_documents(path: Path, into: Path) -> list[str]:
    """One file per object: Checkov drops a whole file whose text looks like a Helm template
    (`{{ .Values.`), which the platform manifest's Istio ConfigMaps contain."""
    import yaml

    files = []
    for index, doc in enumerate(load_text(path.read_text(encoding="utf-8"), str(path))):
        target = into / f"{index:04d}.yaml"
        target.write_text(yaml.safe_dump(doc.obj, sort_keys=False), encoding="utf-8")
        files.append(str(target))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of our reviewer (median)")
    parser.add_argument("--no-checkov", action="store_true", help="measure only our reviewer")
    args = parser.parse_args()
    upstream = upstream_dir()
    if not upstream.is_dir():
        print(f"upstream manifests not found at {upstream} (set APPLIANCE_UPSTREAM)",
              file=sys.stderr)
        return 3
    binary = None if args.no_checkov else checkov_binary()
    print(f"{'file':42} {'ours s':>7} {'objects':>7} {'checkov s':>9} {'objects':>7} "
          f"{'ratio':>7}")
    for name in FILES:
        path = upstream / name
        seconds, objects, findings = ours(path, args.runs)
        line = f"{name:42} {seconds:7.2f} {objects:7d}"
        if binary is None:
            print(line)
            continue
        whole = checkov(binary, ["-f", str(path)])
        with tempfile.TemporaryDirectory() as tmp:
            split_documents(path, Path(tmp))
            split = checkov(binary, ["-d", tmp])
        print(f"{line} {whole[0]:9.2f} {whole[1]:7d} {whole[0] / seconds:6.1f}x  (whole file)")
        print(f"{'':42} {'':7} {'':7} {split[0]:9.2f} {split[1]:7d} {split[0] / seconds:6.1f}x  "
              "(one file per object)")
        print(f"{'':42} findings: ours {findings}, checkov failed checks {split[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
