"""Benchmark: the full local conformance run, serial and with -n 2, per area, and peak stack memory.

Runs `appliance conformance` (ephemeral local stack, profile standard) in an isolated
APPLIANCE_HOME, twice: serial (the baseline) and with -n 2. While each runs, samples every 0.1 s
the resident memory of the stack's processes (object store, model servers, serving fronts: every
process started with the stack's run dir on its command line) and of everything the run started.
Prints wall times, the per-area split (sum of each area's test times), the -n 2 / serial ratio,
and both against the goals: 60 s serial, 1 GiB for the stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GOAL_SECONDS = 60.0
GOAL_BYTES = 1024**3
SAMPLE_SECONDS = 0.1


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return found


class Sampler(threading.Thread):
    """Peak summed RSS of the stack's processes, and of the run's whole process tree."""

    def __init__(self, root: int, stacks_dir: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.marker = f"--run-dir {stacks_dir}/"
        self.stack_peak = 0
        self.tree_peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            table = _processes()
            stack = [pid for pid, (_, cmd) in table.items() if self.marker in cmd]
            tree = {self.root}
            grew = True
            while grew:  # the run's descendants (pytest, workers, tasks, trials)
                new = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
                grew = bool(new)
                tree |= new
            self.stack_peak = max(self.stack_peak, sum(_rss(p) for p in stack))
            self.tree_peak = max(self.tree_peak, sum(_rss(p) for p in tree | set(stack)))
            time.sleep(SAMPLE_SECONDS)


@dataclass
class Run:
    workers: int
    exit: int
    wall: float
    areas: dict[str, dict[str, float]]
    not_passed: list[str]
    stack_peak: int
    tree_peak: int
    stderr: str

    @property
    def label(self) -> str:
        return "serial" if self.workers == 0 else f"-n {self.workers}"


def measure(workers: int, home: Path) -> Run:
    report = home / f"report-n{workers}.json"
    env = {**os.environ, "APPLIANCE_HOME": str(home), "NO_COLOR": "1"}
    argv = [sys.executable, "-m", "appliance", "-q", "conformance", "-n", str(workers),
            "--report", str(report)]
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid, home / "stacks")
    sampler.start()
    _, stderr = proc.communicate()
    wall = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    data = json.loads(report.read_text()) if report.exists() else {"areas": {}, "tests": []}
    return Run(workers, proc.returncode, wall, data["areas"],
               [t["id"] for t in data["tests"] if t["outcome"] != "passed"],
               sampler.stack_peak, sampler.tree_peak, stderr)


def main() -> int:
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-conformance-") as tmp:
        runs = [measure(0, Path(tmp)), measure(2, Path(tmp))]
    serial, parallel = runs
    print(f"{'area':<14}" + "".join(f"{r.label:>10}" for r in runs))
    for area in serial.areas:
        cells = "".join(f"{r.areas.get(area, {}).get('seconds', 0.0):>9.1f}s" for r in runs)
        print(f"{area:<14}{cells}")
    for r in runs:
        mib = 2**20
        print(f"{r.label:>6}: wall {r.wall:.1f}s (goal {GOAL_SECONDS:.0f}s, "
              f"ratio {r.wall / GOAL_SECONDS:.2f}); stack peak RSS {r.stack_peak / mib:.0f} MiB "
              f"(goal 1024 MiB, ratio {r.stack_peak / GOAL_BYTES:.2f}); "
              f"whole run peak {r.tree_peak / mib:.0f} MiB; exit {r.exit}")
        if r.not_passed:
            print(f"        not passed: {', '.join(r.not_passed)}")
        if r.exit not in (0, 1):
            print(r.stderr[-2000:])
    ratio = parallel.wall / serial.wall
    print(f"-n 2 / serial wall time: {ratio:.2f}x (baseline: the serial run, same process)")
    return 0 if all(r.exit == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
