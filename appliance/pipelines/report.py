"""The human report of a PipelineRun, and how a failed run is explained (what, why, fix)."""

from __future__ import annotations

import json

from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED, PipelineRun


def run_report(result: PipelineRun) -> str:
    """One line for the run, one per task, the outputs, failed tasks' log tails and notes."""
    marks = {SUCCEEDED: "✓", FAILED: "✗", SKIPPED: "-"}
    lines = [f"pipeline {result.pipeline}  run {result.run_id}  {result.state}  "
             f"({result.duration_seconds:.1f}s)"]
    width = max([len(t.key) for t in result.tasks] + [4])
    for task in result.tasks:
        timing = f"{task.duration_seconds:5.1f}s" if task.state != SKIPPED else "      "
        retried = f"  ({task.attempts} attempts)" if task.attempts > 1 else ""
        lines.append(f"  {marks.get(task.state, '•')} {task.key:<{width}}  {task.state:<9} "
                     f"{timing}{retried}  {task.error}".rstrip())
    if result.state == FAILED and not result.failed_tasks:
        lines.append(f"failed: {result.error or 'the run failed'}")  # no task row says why
    if result.outputs:
        lines.append(f"outputs: {json.dumps(result.outputs, sort_keys=True, default=str)}")
    for task in result.tasks:
        if task.state == FAILED and task.log:
            lines.append(f"log tail of {task.key}:")
            lines += [f"  {line}" for line in task.log_tail().splitlines()]
    for note in result.warnings:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def failure(result: PipelineRun) -> tuple[str, str, str]:
    """(what, why, fix) of a run that did not succeed: the first failed task, else the run."""
    if result.failed_tasks:
        first = result.task(result.failed_tasks[0])
        if not first.attempts:
            # kfp.local's orchestration failed around the task: there is no log to read.
            return (f"pipeline {result.pipeline!r} failed at task {first.key}", first.error,
                    "the local runner (kfp.local) failed here, the task's code never ran; see "
                    "'What kfp.local cannot run' in docs/pipelines.md, or run the pipeline on a "
                    "cluster target")
        return (f"pipeline {result.pipeline!r} failed at task {first.key}",
                first.error or "the task exited non-zero",
                f"see the task's log above; everything is under {result.root}")
    return (f"pipeline {result.pipeline!r} failed", result.error or "the run failed",
            f"see {result.root}")

