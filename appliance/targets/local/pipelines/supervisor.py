"""A local run's supervisor: kfp.local runs in a worker thread while the caller's thread reports
progress and, at the deadline or on an interrupt, stops the run (no task starts any more, a retry
back-off ends, the run's task processes are terminated) before the caller hears of it."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from appliance.console import Progress
from appliance.runtime import process

HEARTBEAT = 30.0  # seconds without news before a "running ..." line, as on a cluster
T = TypeVar("T")
_DONE = object()


class Expired(Exception):
    """The run outlasted its timeout and was stopped; `running` is what ran at the deadline."""

    def __init__(self, running: list[str]) -> None:
        super().__init__(", ".join(running))
        self.running = running


class Stopped(Exception):
    """Raised inside kfp.local in place of starting a task once the run is being stopped."""


def stop_marked(marker: str) -> list[int]:
    """Terminate every process whose command line carries `marker`, with its descendants.
    kfp.local's SubprocessRunner starts each task as `sh -ec ... --executor_input JSON` and that
    shell's `python -m kfp.dsl.executor_main` with the same JSON: both name the task's output
    files under the run's pipeline root, which is what the marker matches."""
    return process.terminate(process.with_descendants(process.pids_with(marker)))


class Supervisor:
    """Runs one pipeline run's work in a worker thread, from the calling thread."""

    def __init__(self, marker: str, *, timeout: float | None = None, progress: Progress | None = None,
                 running: Callable[[], list[str]] = list, label: str = "the run",
                 heartbeat: float = HEARTBEAT,
                 stop_processes: Callable[[str], list[int]] = stop_marked,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.marker = marker
        self.timeout = timeout
        self.progress = progress
        self.running = running
        self.label = label
        self.heartbeat = heartbeat
        self.stop_processes = stop_processes
        self.clock = clock
        self.stopping = threading.Event()
        self._events: queue.SimpleQueue[object] = queue.SimpleQueue()

    def note(self, line: str) -> None:
        """A progress line, from any thread; the calling thread reports it."""
        self._events.put(line)

    def run(self, work: Callable[[], T]) -> T:
        """`work()`'s result, or its exception. At the deadline the run is stopped and Expired
        raised; an exception in the calling thread (KeyboardInterrupt) stops it, then propagates."""
        outcome: list[tuple[bool, Any]] = []

        def target() -> None:
            try:
                outcome.append((True, work()))
            except BaseException as exc:  # handed to the calling thread, which raises it
                outcome.append((False, exc))
            finally:
                self._events.put(_DONE)

        worker = threading.Thread(target=target, name=f"kfp.local {self.label}", daemon=True)
        worker.start()
        try:
            finished = self._watch(self.clock())
            running = [] if finished else self.running()
        except BaseException:
            self._stop(worker)
            raise
        if not finished:
            self._stop(worker)
            raise Expired(running)
        worker.join()
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def _watch(self, started: float) -> bool:
        """Report progress until the work is done (True) or the deadline has passed (False)."""
        last = started
        while True:
            now = self.clock()
            waits = [last + self.heartbeat - now]
            if self.timeout is not None:
                if now - started >= self.timeout:
                    return False
                waits.append(started + self.timeout - now)
            try:
                item = self._events.get(timeout=max(0.0, min(waits)))
            except queue.Empty:
                item = None
            now = self.clock()
            if item is _DONE:
                return True
            if item is None:
                if now - last < self.heartbeat:
                    continue
                running = self.running()
                item = f"{self.label}: running {', '.join(running)}" if running else \
                    f"{self.label}: running"
            if self.progress is not None:
                self.progress(f"{item} ({now - started:.0f}s)")
            last = now

    def _stop(self, worker: threading.Thread) -> None:
        """Stop the run and wait for kfp.local to give up: with no task process left and no task
        allowed to start, it unwinds at once. Every sweep catches a task that started meanwhile;
        a last one after kfp.local returned leaves nothing of the run running."""
        self.stopping.set()
        while worker.is_alive():
            self.stop_processes(self.marker)
            worker.join(0.1)
        self.stop_processes(self.marker)


class _StoppableTime:
    """kfp.local's task executor's `time` during a run: a retry back-off ends when it stops."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def stoppable(stopping: threading.Event) -> Iterator[None]:
    """While a run is in progress: once `stopping` is set, no task starts (kfp.local's task
    dispatcher raises Stopped instead, which ends its retry loop too) and a retry back-off
    returns at once. Restored afterwards, like the rest of kfp.local's global state."""
    from kfp.local import task_dispatcher
    from kfp.local.orchestrator import task_executor

    start_task = task_dispatcher.run_single_task_implementation

    def unless_stopping(*args: Any, **kwargs: Any) -> Any:
        if stopping.is_set():
            raise Stopped("the run was stopped before this task started")
        return start_task(*args, **kwargs)

    task_dispatcher.run_single_task_implementation = unless_stopping
    task_executor.time = _StoppableTime(stopping)
    try:
        yield
    finally:
        task_dispatcher.run_single_task_implementation = start_task
        task_executor.time = time
