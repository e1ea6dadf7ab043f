"""The result of a pipeline run: its state, and every task's state, outputs, duration and log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CACHED = "CACHED"  # the task's outputs came from the local cache; it did not run
SKIPPED = "SKIPPED"  # never started: a branch not taken, or downstream of a failure

LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class TaskRun:
    """One task of the run. `key` is its path under the run root ('train',
    'for-loop-1-iteration-0/square'); `name` is the task name in the pipeline. A task (or loop
    iteration) that the runner itself failed to run is FAILED with 0 attempts and its cause."""

    key: str
    name: str
    state: str
    attempts: int = 0
    duration_seconds: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    error: str = ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log.splitlines()[-lines:])

    def to_dict(self, with_logs: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "state": self.state,
            "attempts": self.attempts,
            "duration_seconds": round(self.duration_seconds, 3),
            "outputs": self.outputs,
        }
        if self.error:
            data["error"] = self.error
        if with_logs:
            data["log"] = self.log
        return data


@dataclass(frozen=True)
class PipelineRun:
    """A finished run. `run_id` names its directory under the stack's pipeline root; `log` holds
    what was printed outside any task (the runner's own lines)."""

    run_id: str
    pipeline: str
    state: str
    arguments: dict[str, Any]
    outputs: dict[str, Any]
    tasks: tuple[TaskRun, ...]
    duration_seconds: float
    root: str
    error: str = ""
    failed_tasks: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    log: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCEEDED

    def task(self, key: str) -> TaskRun:
        """A task by key, or by name when the name is unique."""
        for task in self.tasks:
            if task.key == key:
                return task
        named = [t for t in self.tasks if t.name == key]
        if len(named) == 1:
            return named[0]
        known = ", ".join(t.key for t in self.tasks)
        raise KeyError(f"no single task {key!r} in run {self.run_id} (tasks: {known})")

    def states(self) -> dict[str, str]:
        return {t.key: t.state for t in self.tasks}

    def to_dict(self, with_logs: bool = True) -> dict[str, Any]:
        data = {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "state": self.state,
            "arguments": self.arguments,
            "outputs": self.outputs,
            "duration_seconds": round(self.duration_seconds, 3),
            "root": self.root,
            "error": self.error,
            "failed_tasks": list(self.failed_tasks),
            "warnings": list(self.warnings),
            "tasks": [t.to_dict(with_logs) for t in self.tasks],
        }
        if with_logs:
            data["log"] = self.log
        return data
