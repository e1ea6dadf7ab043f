"""`appliance run` as glue: --timeout reaches the engine, progress lines reach stderr, and a run
that times out or is interrupted on a cluster is terminated and reported (the real cluster engine
over the fake KFP API, with the fake cluster's virtual clock: no process, no port, no sleep)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cli_in_process
import pytest
from cluster_objects import namespace, secret
from fake_cluster import FakeCluster
from fake_kfp import FakeKfp, FakeKfpApi
from fakes import FakePipelines, FakeTarget, factory

from appliance.targets.cluster import pipeline_ir as ir
from appliance.targets.cluster.pipelines import ClusterPipelinesEngine

PIPELINE = Path(__file__).resolve().parents[2] / "conformance" / "pipelines" / "train_gate_promote.py"


def run(args: list[str], target: FakeTarget, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return cli_in_process.run(args, capsys, factory(target))


def up(target: FakeTarget, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-q", "up", "--name", "s"], target, capsys)[0] == 0


@pytest.mark.parametrize(("given", "seconds"), [
    ([], None), (["--timeout", "90"], 90.0), (["--timeout", "90s"], 90.0),
    (["--timeout", "25m"], 1500.0), (["--timeout", "2h"], 7200.0)])
def test_the_timeout_reaches_the_engine_in_seconds(
    given: list[str], seconds: float | None, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = FakePipelines()
    fake = FakeTarget(pipelines=engine)
    up(fake, capsys)
    code, _, err = run(["-q", "run", str(PIPELINE), "--param", "model=m", "--name", "s", *given],
                       fake, capsys)
    assert (code, err) == (0, "")
    assert engine.timeouts == [seconds]


@pytest.mark.parametrize(("value", "problem"), [
    ("0", "'0' is out of range (more than 0, at most 24h)"),
    ("soon", "'soon' is not a duration (e.g. 25m, 900s, 1h)"),
    ("25h", "'25h' is out of range (more than 0, at most 24h)")])
def test_a_bad_timeout_is_bad_usage_and_runs_nothing(
    value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = FakePipelines()
    fake = FakeTarget(pipelines=engine)
    up(fake, capsys)
    code, out, err = run(["run", str(PIPELINE), "--name", "s", "--timeout", value], fake, capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"Error: Invalid value for '--timeout': {problem}"
    assert engine.runs == []


def test_progress_lines_go_to_stderr_and_not_with_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    engine = FakePipelines(progress_lines=["pipeline glue: task only started (0s)",
                                           "pipeline glue: task only SUCCEEDED (1s)"])
    fake = FakeTarget(pipelines=engine)
    up(fake, capsys)
    code, out, err = run(["run", str(PIPELINE), "--param", "model=m", "--name", "s"], fake, capsys)
    assert code == 0 and out.startswith("pipeline train-gate-promote  run fake-run  SUCCEEDED")
    assert err.splitlines() == ["running pipeline 'train-gate-promote' on stack 's'",
                                "pipeline glue: task only started (0s)",
                                "pipeline glue: task only SUCCEEDED (1s)"]
    code, out, err = run(["-q", "run", str(PIPELINE), "--param", "model=m", "--name", "s"], fake,
                         capsys)
    assert code == 0 and out.startswith("pipeline train-gate-promote") and err == ""


class NeverEnding(FakeKfpApi):
    """A KFP run that stays RUNNING with train-model running."""

    def get_run(self, run_id: str) -> dict[str, Any]:
        self.backend.get_run(run_id)  # the fake backend records the read
        return {"run_id": run_id, "state": "RUNNING", "run_details": {"task_details": [
            {"display_name": "train-model", "state": "RUNNING"}]}}


class InterruptedClock:
    """The cluster's virtual clock, whose `at`-th sleep is interrupted (Ctrl-C during the wait)."""

    def __init__(self, cluster: FakeCluster, at: int) -> None:
        self.cluster, self.at, self.sleeps = cluster, at, 0

    def monotonic(self) -> float:
        return float(self.cluster.clock.monotonic())

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == self.at:
            raise KeyboardInterrupt
        self.cluster.clock.sleep(seconds)


def kind_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str], api: type[FakeKfpApi] = NeverEnding,
               interrupt_at: int | None = None) -> tuple[FakeTarget, FakeKfp]:
    """Stack `s` up on a fake kind target whose pipelines engine is the real cluster engine over
    the fake KFP (runs that never end) and a fake cluster."""
    cluster = FakeCluster()
    cluster.apply([namespace("kubeflow"), secret("mlpipeline-minio-artifact", "kubeflow",
                                                 {"accesskey": "YQ==", "secretkey": "cw=="})])
    backend = FakeKfp({}, cluster)
    clock = cluster.clock if interrupt_at is None else InterruptedClock(cluster, interrupt_at)
    engine = ClusterPipelinesEngine(api(backend), cluster, clock, tmp_path / "pipelines",
                                    ir.ClusterProfile("appliance-stubs:dev"))
    fake = FakeTarget(name="kind", pipelines=engine)
    up(fake, capsys)
    return fake, backend


def test_a_cluster_run_that_outlasts_timeout_is_terminated_and_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, backend = kind_stack(tmp_path, capsys)
    code, out, err = run(["run", str(PIPELINE), "--param", "model=m", "--name", "s", "--timeout",
                          "40s"], fake, capsys)
    (run_id,) = backend.runs
    assert (code, out) == (4, "")
    assert backend.terminated == [run_id]
    # A line when what runs changes and every 30 s; polled every 5 s (virtual time).
    assert err.splitlines() == [
        "running pipeline 'train-gate-promote' on stack 's'",
        f"KFP run {run_id} RUNNING: running train-model (0s)",
        f"KFP run {run_id} RUNNING: running train-model (30s)",
        f"error: timed out after 40s waiting for pipeline 'train-gate-promote' (KFP run {run_id}, "
        f"terminated): KFP run {run_id} RUNNING: running train-model (fix: run it again with a "
        "larger --timeout than 40s; run 'appliance diagnose' for events, pod states and logs)",
    ]


def test_the_cluster_default_timeout_is_20_minutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, backend = kind_stack(tmp_path, capsys)
    code, _, err = run(["-q", "run", str(PIPELINE), "--param", "model=m", "--name", "s"], fake, capsys)
    assert code == 4 and backend.terminated == list(backend.runs)
    assert "error: timed out after 1200s waiting for pipeline 'train-gate-promote'" in err
    assert "(fix: run it again with a larger --timeout than 20m; " in err


def test_an_interrupted_cluster_run_is_terminated_and_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, backend = kind_stack(tmp_path, capsys, interrupt_at=2)
    code, out, err = run(["-q", "run", str(PIPELINE), "--param", "model=m", "--name", "s"], fake, capsys)
    (run_id,) = backend.runs
    assert (code, out) == (130, "")
    assert backend.terminated == [run_id]
    assert err.splitlines()[-1] == (
        f"error: interrupted; pipeline 'train-gate-promote': KFP run {run_id} terminated")
