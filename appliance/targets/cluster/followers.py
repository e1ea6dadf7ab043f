"""The registry followers of a cluster stack: one background process on this machine per followed
model, as on the local target (`python -m appliance.targets.follower`, command from
appliance/serving/follow.py). It reads the champion through the stack's forwarded object store
and rolls the InferenceService out through the API server, so nothing of it runs in the cluster.
Each is recorded in followers/<model>.json under the run dir (pid, interval, start time); its
log is logs/serve-<model>-follow.log, which `appliance diagnose` collects."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.runtime import process
from appliance.serving.records import ProcessFollower
from appliance.targets.cluster.recorded import Processes, RecordedProcess

FOLDER = "followers"
ROLE = "serving-follower"  # as the local target names the component


@dataclass(frozen=True)
class FollowerRecord:
    """A recorded follower and whether its process still runs."""

    model: str
    pid: int
    interval: float
    started: float
    running: bool


class ProcessFollowers:
    """Implements serving.Followers with a recorded background process per followed model."""

    def __init__(self, run_dir: Path, processes: Processes = process,
                 now: Callable[[], float] = time.time) -> None:
        self.run_dir = run_dir
        self.processes = processes
        self.now = now

    def _process(self, name: str) -> RecordedProcess:
        # Every follower carries --run-dir <run dir>: the marker, and how `down` finds it.
        return RecordedProcess(self.run_dir / FOLDER / f"{name}.json", str(self.run_dir), self.processes)

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"serve-{name}-follow.log"

    def start(self, name: str, interval: float, argv: list[str], env: Mapping[str, str]) -> ProcessFollower:
        pid = self._process(name).start(argv, self.log(name), env, model=name, interval=interval,
                                        started=self.now())
        return ProcessFollower(name, interval, f"pid {pid}", pid)

    def stop(self, name: str, timeout: float) -> bool:
        return self._process(name).stop(timeout)

    def all(self) -> list[FollowerRecord]:
        found = []
        for path in sorted((self.run_dir / FOLDER).glob("*.json")):
            recorded = self._process(path.stem)
            record = recorded.read()
            if record is None:
                continue
            running = self.processes.is_alive(record["pid"], recorded.marker)
            found.append(FollowerRecord(path.stem, record["pid"], float(record.get("interval", 0.0)),
                                        float(record.get("started", 0.0)), running))
        return found
