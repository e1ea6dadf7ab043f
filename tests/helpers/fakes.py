"""Fakes that implement the real interfaces (Target, the engines): CLI tests test glue with them.

A FakeTarget keeps its stacks in the real stack index (state.json under $APPLIANCE_HOME), as
every target does, so the CLI resolves them exactly as it resolves real stacks; everything else
is in memory and recorded in `calls`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.doctor import Check
from appliance.objectstore import ObjectStore
from appliance.pipelines.interface import PipelinesEngine
from appliance.pipelines.model import SUCCEEDED, PipelineRun, TaskRun
from appliance.runtime.state import RunDir, StackState
from appliance.stack import Engines, Stack
from appliance.stacks import profile_of
from appliance.targets.interface import ComponentStatus, StackStatus, UpOptions


@dataclass
class FakePipelines:
    """A PipelinesEngine whose runs succeed with one task per call, recording what it was asked
    (`timeouts`: the timeout of each call) and reporting `progress_lines` to the caller."""

    runs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    result: PipelineRun | None = None
    timeouts: list[float | None] = field(default_factory=list)
    progress_lines: list[str] = field(default_factory=list)

    def run(self, pipeline: Any, arguments: Mapping[str, Any] | None = None, *, caching: bool = False,
            retries: int | None = None, timeout: float | None = None,
            progress: Callable[[str], None] | None = None) -> PipelineRun:
        name = getattr(pipeline, "name", str(pipeline))
        self.runs.append((name, dict(arguments or {})))
        self.timeouts.append(timeout)
        for line in self.progress_lines:
            if progress is not None:
                progress(line)
        if self.result is not None:
            return self.result
        task = TaskRun("only", "only", SUCCEEDED, attempts=1, outputs={"Output": "done"})
        return PipelineRun(run_id="fake-run", pipeline=name, state=SUCCEEDED, arguments=dict(arguments or {}),
                           outputs={"Output": "done"}, tasks=(task,), duration_seconds=0.0, root="")


@dataclass
class FakeTuning:
    """A TuningEngine that records each run's experiment name and timeout; with `times_out` set
    it raises TimedOut as an engine does when the experiment outlives its timeout."""

    runs: list[tuple[str, float | None]] = field(default_factory=list)
    times_out: bool = False

    def run(self, experiment: Any, progress: Any = None, *, timeout: float | None = None) -> Any:
        from appliance.errors import TimedOut

        self.runs.append((experiment.name, timeout))
        if self.times_out:
            raise TimedOut(f"experiment {experiment.name}", "0 of 3 trials done, 3 running (stopped)",
                           timeout or 0.0, fix="pass a larger --timeout")
        raise AssertionError("FakeTuning returns no result: set times_out")


@dataclass
class FakeTarget:
    """A Target with the real interface: state in the real run dir, nothing started."""

    name: str = "local"
    healthy: bool = True
    checks: list[Check] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    pipelines: PipelinesEngine = field(default_factory=FakePipelines)  # a real engine over fakes, too
    tuning: FakeTuning = field(default_factory=FakeTuning)

    def preflight(self, profile: Profile | None = None, options: UpOptions | None = None) -> list[Check]:
        self.calls.append(("preflight", profile.name if profile else ""))
        return list(self.checks)

    def up(self, name: str, profile: Profile, options: UpOptions, console: Console) -> StackStatus:
        self.calls.append(("up", name, profile.name, str(options.port)))
        run_dir = RunDir(name)
        run_dir.create()
        run_dir.save(StackState(name, self.name, profile.name, time.time(),
                                profile_document=profile.to_document(), profile_source=str(profile.source)))
        status = self.status(name)
        assert status is not None
        return status

    def status(self, name: str) -> StackStatus | None:
        state = RunDir(name).load()
        if state is None:
            return None
        store = ComponentStatus("object-store", "http://127.0.0.1:9", self.healthy,
                                "ok" if self.healthy else "not answering")
        return StackStatus(name, state.target, state.profile, 1.0, (store,))

    def down(self, name: str, console: Console, delete_crds: bool = False) -> bool:
        self.calls.append(("down", name))
        run_dir = RunDir(name)
        existed = run_dir.exists()
        run_dir.remove()
        return existed

    def stack(self, name: str) -> Stack:
        state = RunDir(name).load()
        if state is None:
            from appliance.errors import BadInput

            raise BadInput(f"no stack named {name!r} is up", "", f"run 'appliance up --name {name}' first")
        store = ObjectStore(endpoint="http://127.0.0.1:9", access_key="fake-key", secret_key="fake-secret")
        pipelines, tuning = self.pipelines, self.tuning
        return Stack(name, self.name, profile_of(state), store, RunDir(name).path,
                     Engines(pipelines=lambda stack: pipelines, tuning=lambda stack: tuning,
                             missing="fake target"))

    def collect_diagnostics(self, name: str, out_dir: Path) -> list[Path]:
        self.calls.append(("collect_diagnostics", name))
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = out_dir / "summary.txt"
        summary.write_text(f"stack {name}\n")
        return [summary]


def factory(target: FakeTarget) -> Callable[[str | None], FakeTarget]:
    """What the CLI takes to find targets: every name resolves to this fake."""
    return lambda name: target
