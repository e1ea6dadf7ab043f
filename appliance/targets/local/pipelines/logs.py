"""Per-task log capture for kfp.local, which prints everything (its own lines and every task's
output) to the process's stdout: a stdout stand-in that keeps each thread's lines apart and
splits them into task segments at kfp.local's "Executing task" / "finished with status" lines."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# kfp.local's formatter prefixes a time; lines that reach our CaptureHandler instead (kfp.local
# restores logging handlers per task, which races when ParallelFor tasks overlap) have none.
_STAMP = r"^(?:\d\d:\d\d:\d\d\.\d{3} - )?[A-Z]+ - "
_EXECUTING = re.compile(_STAMP + r"Executing task '(?P<name>[^']+)'$")
_FINISHED = re.compile(_STAMP + r"Task '(?P<name>[^']+)' finished with status (?P<status>[A-Z]+)$")
_STREAMED = re.compile(_STAMP + r"Streamed logs:$")
_CACHE_HIT = re.compile(r"Task (?P<name>\S+) cache hit \(key=(?P<key>[0-9a-f]+)\)")
_OUTPUT_FILE = re.compile(r'"outputFile": "(?P<dir>[^"]+)/executor_output\.json"')
_EXCEPTION = re.compile(r"^\s*(?P<line>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b.*)$")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class Segment:
    """One task attempt as printed by kfp.local (or one cache hit)."""

    name: str
    started: float
    ended: float | None = None
    status: str | None = None
    lines: list[str] = field(default_factory=list)
    task_dir: str | None = None
    cache_key: str | None = None

    @property
    def text(self) -> str:
        lines = list(self.lines)
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        return "\n".join(lines)

    def error(self) -> str:
        """The last exception line the task printed, else its last line."""
        found = [m.group("line").strip() for m in map(_EXCEPTION.match, self.lines) if m]
        if found:
            return found[-1]
        text = self.text
        return text.splitlines()[-1].strip() if text else ""


@dataclass
class _ThreadState:
    partial: str = ""
    current: Segment | None = None


class TaskCapture(io.TextIOBase):
    """Installed as sys.stdout for a run: lines are kept per thread, so the concurrent tasks of
    a ParallelFor do not interleave, and each line goes to the task that printed it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 on_task: Callable[[str, str], None] | None = None) -> None:
        super().__init__()
        self._clock = clock
        # Told (task name, "started" | kfp.local's final status | "CACHED") as tasks go.
        self._on_task = on_task or (lambda name, event: None)
        self._lock = threading.Lock()
        self._threads: dict[int, _ThreadState] = {}
        self.segments: list[Segment] = []
        self.lines: list[str] = []  # everything printed outside a task

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        state = self._state()
        # kfp.local indents task output by printing spaces alone before each line (and nests
        # that indent when tasks run concurrently): a spaces-only write at a line start is it.
        if not state.partial and text and not text.strip(" "):
            return len(text)
        state.partial += text
        while "\n" in state.partial:
            line, state.partial = state.partial.split("\n", 1)
            self._line(state, strip_ansi(line).rstrip("\r"))
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered beyond the current partial line."""

    def running(self) -> list[str]:
        """The tasks started and not finished yet."""
        with self._lock:
            return [s.name for s in self.segments if s.status is None]

    def close_segments(self) -> None:
        """Flush partial lines at the end of a run."""
        with self._lock:
            states = list(self._threads.values())
        for state in states:
            if state.partial:
                self._line(state, strip_ansi(state.partial))
                state.partial = ""

    def _state(self) -> _ThreadState:
        ident = threading.get_ident()
        with self._lock:
            state = self._threads.get(ident)
            if state is None:
                state = self._threads[ident] = _ThreadState()
            return state

    def _line(self, state: _ThreadState, line: str) -> None:
        started = _EXECUTING.match(line)
        if started:
            state.current = Segment(started.group("name"), self._clock())
            with self._lock:
                self.segments.append(state.current)
            self._on_task(state.current.name, "started")
            return
        finished = _FINISHED.match(line)
        if finished and state.current is not None and finished.group("name") == state.current.name:
            state.current.status = finished.group("status")
            state.current.ended = self._clock()
            state.current = None
            self._on_task(finished.group("name"), finished.group("status"))
            return
        hit = _CACHE_HIT.search(line)
        if hit and state.current is None:
            now = self._clock()
            segment = Segment(hit.group("name"), now, now, "CACHED", cache_key=hit.group("key"))
            with self._lock:
                self.segments.append(segment)
                self.lines.append(line)
            self._on_task(segment.name, "CACHED")
            return
        current = state.current
        if current is None:
            with self._lock:
                self.lines.append(line)
            return
        if _STREAMED.match(line) and not current.lines:
            return
        if current.task_dir is None:
            found = _OUTPUT_FILE.search(line)
            if found:
                current.task_dir = found.group("dir")
        current.lines.append(line)


class CaptureHandler(logging.Handler):
    """Routes log records emitted outside kfp.local's own logger context (cache hits, retry
    notices) into the capture, formatted as kfp.local formats its lines."""

    def __init__(self, capture: TaskCapture) -> None:
        super().__init__(logging.INFO)
        self.capture = capture
        self.setFormatter(logging.Formatter("%(levelname)s - %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.capture.write(self.format(record) + "\n")
