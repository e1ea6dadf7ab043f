"""A background process of a cluster stack recorded in a JSON file under its run dir: started,
found again while it runs (by its pid and a marker on its command line, so a reused pid is not
taken for it), and stopped by its record. The per-deployment forwarders and the registry
followers are such processes; `down` finds every one of them by the run dir on its command line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from appliance.runtime import process
from appliance.runtime.state import write_atomic


class Processes(Protocol):
    """The process seam (appliance.runtime.process itself; tests use a fake)."""

    def spawn(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int: ...

    def is_alive(self, pid: int, marker: str = "") -> bool: ...

    def stop(self, pid: int, marker: str = "", timeout: float = 10.0) -> bool: ...


class RecordedProcess:
    """One background process and its record file (its pid plus the caller's fields)."""

    def __init__(self, record: Path, marker: str, processes: Processes = process) -> None:
        self.record = record
        self.marker = marker
        self.processes = processes

    def read(self) -> dict[str, Any] | None:
        """The record, whether or not its process still runs (None: none, or unreadable)."""
        try:
            found = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and isinstance(found.get("pid"), int) else None

    def running(self) -> dict[str, Any] | None:
        """The record when its process runs."""
        found = self.read()
        return found if found is not None and self.processes.is_alive(found["pid"], self.marker) else None

    def start(self, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
              **fields: Any) -> int:
        """Start `argv` in the background (output appended to `log`) and record it; its pid."""
        self.record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pid = self.processes.spawn(argv, log, dict(env) if env is not None else None)
        try:
            write_atomic(self.record, json.dumps({**fields, "pid": pid}, sort_keys=True) + "\n")
        except BaseException:
            self.processes.stop(pid, self.marker)
            raise
        return pid

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the recorded process (SIGTERM, `timeout` s, then SIGKILL) and drop the record;
        whether it ran."""
        found = self.read()
        ran = found is not None and self.processes.stop(found["pid"], self.marker, timeout=timeout)
        self.record.unlink(missing_ok=True)
        return ran
