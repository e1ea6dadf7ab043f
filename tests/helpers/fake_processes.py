"""The process seam of appliance/targets/cluster/recorded.py, in memory: spawned processes are
records (argv, log, environment) with pids from 5001; `die` ends one as a crash would; `stop`
notes the timeout it was given, and is_alive checks the marker against the argv as the real seam
checks a command line (so a reused pid of another command is not taken for it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Spawned:
    pid: int
    argv: list[str]
    log: Path
    env: dict[str, str] | None


@dataclass
class FakeProcesses:
    spawned: list[Spawned] = field(default_factory=list)
    alive: set[int] = field(default_factory=set)
    stopped: list[tuple[int, float]] = field(default_factory=list)  # (pid, timeout) of each stop that ran
    on_stop: Callable[[int], None] | None = None  # called as a process stops (tests check order)

    def spawn(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int:
        pid = 5001 + len(self.spawned)
        self.spawned.append(Spawned(pid, list(argv), log_path, env))
        self.alive.add(pid)
        return pid

    def _cmdline(self, pid: int) -> str:
        return next((" ".join(s.argv) + " " for s in self.spawned if s.pid == pid), "")

    def is_alive(self, pid: int, marker: str = "") -> bool:
        return pid in self.alive and marker in self._cmdline(pid)

    def stop(self, pid: int, marker: str = "", timeout: float = 10.0) -> bool:
        if not self.is_alive(pid, marker):
            return False
        if self.on_stop is not None:
            self.on_stop(pid)
        self.alive.discard(pid)
        self.stopped.append((pid, timeout))
        return True

    def die(self, pid: int) -> None:
        self.alive.discard(pid)
