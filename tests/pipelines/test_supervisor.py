"""The local run's supervisor with fakes at its seams (work, clock, the process sweep): progress
from the caller's thread, the deadline and an interrupt stopping the run before they are raised,
and kfp.local refusing task starts and ending a retry back-off once the run is stopping."""

from __future__ import annotations

import threading
import time

import pytest
from kfp.local import task_dispatcher
from kfp.local.orchestrator import task_executor

from appliance.targets.local.pipelines.supervisor import Expired, Stopped, Supervisor, stoppable

MARKER = "/runs/0123456789ab/"


class Tasks:
    """Work that runs until its task processes are stopped (the fake sweep ends them)."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.sweeps: list[str] = []

    def work(self) -> str:
        self.ended.wait()
        return "ended"

    def stop(self, marker: str) -> list[int]:
        self.sweeps.append(marker)
        self.ended.set()
        return [4242]


def test_the_result_and_progress_lines_reach_the_caller_in_order() -> None:
    lines: list[str] = []
    tasks = Tasks()
    supervisor = Supervisor(MARKER, timeout=60.0, progress=lines.append, clock=lambda: 7.0,
                            stop_processes=tasks.stop)

    def work() -> int:
        supervisor.note("pipeline p: task a started")
        supervisor.note("pipeline p: task a SUCCEEDED")
        return 42

    assert supervisor.run(work) == 42
    assert lines == ["pipeline p: task a started (0s)", "pipeline p: task a SUCCEEDED (0s)"]
    assert tasks.sweeps == [] and not supervisor.stopping.is_set()


def test_the_works_exception_is_raised_in_the_callers_thread() -> None:
    def work() -> None:
        raise ValueError("kfp.local says no")

    with pytest.raises(ValueError, match="kfp.local says no"):
        Supervisor(MARKER, clock=lambda: 0.0).run(work)


def test_at_the_deadline_the_run_is_stopped_before_expired_is_raised() -> None:
    tasks = Tasks()
    supervisor = Supervisor(MARKER, timeout=0.0, running=lambda: ["nap"], stop_processes=tasks.stop,
                            clock=lambda: 3.0)
    with pytest.raises(Expired) as raised:
        supervisor.run(tasks.work)
    assert raised.value.running == ["nap"]
    assert supervisor.stopping.is_set()
    # Swept while kfp.local ran, and once more after it returned.
    assert len(tasks.sweeps) >= 2 and set(tasks.sweeps) == {MARKER}


def test_an_interrupt_stops_the_run_before_it_propagates() -> None:
    tasks = Tasks()
    seen: list[str] = []

    def progress(line: str) -> None:
        seen.append(line)
        raise KeyboardInterrupt  # Ctrl-C while the caller's thread reports

    supervisor = Supervisor(MARKER, progress=progress, running=lambda: ["nap", "nap"],
                            label="pipeline p", heartbeat=0.0, stop_processes=tasks.stop,
                            clock=lambda: 0.0)
    with pytest.raises(KeyboardInterrupt):
        supervisor.run(tasks.work)
    assert seen == ["pipeline p: running nap, nap (0s)"]  # the heartbeat line, due at once here
    assert supervisor.stopping.is_set() and tasks.ended.is_set() and set(tasks.sweeps) == {MARKER}


class Waits(threading.Event):
    """The stopping event, recording how long each back-off asked to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return super().wait(0.0)


def test_once_stopping_kfp_local_starts_no_task_and_its_back_off_ends() -> None:
    start_task = task_dispatcher.run_single_task_implementation
    stopping = Waits()
    with stoppable(stopping):
        assert task_dispatcher.run_single_task_implementation is not start_task
        assert task_executor.time.monotonic is time.monotonic
        stopping.set()
        with pytest.raises(Stopped, match="the run was stopped before this task started"):
            task_dispatcher.run_single_task_implementation(pipeline_resource_name="p")
        task_executor.time.sleep(3600.0)  # kfp.local's retry back-off: a wait on the event
    assert stopping.waits == [3600.0]
    assert task_dispatcher.run_single_task_implementation is start_task
    assert task_executor.time is time
