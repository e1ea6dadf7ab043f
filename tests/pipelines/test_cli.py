"""`appliance run` as glue: exit codes, the report, the failing task's error and log tail."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.pipelines.model import FAILED, SKIPPED, PipelineRun, TaskRun
from appliance.pipelines.report import failure, run_report
from appliance.runtime import process
from appliance.stack import Stack

DATA = Path(__file__).parent / "data"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_run_json(local_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", str(DATA / "linear.py"), "--param", "a=1",
                         "--param", "label=y", "--json", "--name", local_stack.name)
    assert code == 0, err
    report = json.loads(out)
    assert (report["state"], report["outputs"]) == ("SUCCEEDED", {"Output": "y:3.0:False:3:['k']"})
    assert report["arguments"] == {"a": 1, "label": "y"}
    assert [(t["key"], t["state"]) for t in report["tasks"]] == [
        ("add", "SUCCEEDED"), ("add-2", "SUCCEEDED"), ("describe", "SUCCEEDED")]
    assert "running pipeline 'linear' on stack 'test'" in err


def test_failed_run_exits_1_naming_the_task(local_stack: Stack,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", str(DATA / "failing.py"), "--name", local_stack.name)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("pipeline failing  run ") and "FAILED" in lines[0]
    assert [line.split()[:3] for line in lines[1:4]] == [
        ["✓", "ok", "SUCCEEDED"], ["✗", "boom", "FAILED"], ["-", "ok-2", "SKIPPED"]]
    assert lines[2].endswith("ValueError: boom 2")
    assert lines[4] == "log tail of boom:"
    assert lines[-1] == "  ValueError: boom 2"
    assert err.splitlines()[-1].startswith(
        "error: pipeline 'failing' failed at task boom: ValueError: boom 2 (fix: see the task's "
        "log above; everything is under ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.py"], "error: pipeline file missing.py not found"),
        ([str(DATA / "linear.py"), "--param", "a=x", "--param", "flag=2"],
         "error: arguments of pipeline 'linear': 2 problem(s)\n"
         "  - a: expected an integer, got 'x'\n"
         "  - flag: expected true or false, got '2'"),
        ([str(DATA / "linear.py"), "--param", "a=1", "--name", "nope"],
         "error: no stack named 'nope' is up (fix: run 'appliance up --name nope' first)"),
    ],
)
def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], appliance_home: Path,
                           args: list[str], message: str) -> None:
    code, out, err = cli(capsys, "run", *args)
    assert (code, out) == (2, "")
    assert err.startswith(message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--retries", "99999999999999999999"],
         "Error: Invalid value for '--retries': 99999999999999999999 is not in the range 0<=x<=100."),
        (["--retries", "-1"], "Error: Invalid value for '--retries': -1 is not in the range 0<=x<=100."),
    ],
)
def test_retries_are_bounded(capsys: pytest.CaptureFixture[str], appliance_home: Path,
                             args: list[str], message: str) -> None:
    code, out, err = cli(capsys, "run", str(DATA / "linear.py"), *args)
    assert (code, out) == (2, "")
    assert err.strip().splitlines()[-1] == message


def test_a_file_that_exits_at_import_exits_2(capsys: pytest.CaptureFixture[str],
                                             appliance_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "exits.py"
    path.write_text("import sys\nsys.exit(0)\n")
    code, out, err = cli(capsys, "run", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: cannot load pipeline {path}: it exited at import (code 0)")


def test_a_file_with_only_a_component_runs_as_a_one_task_pipeline(
        local_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", str(DATA / "add_numbers.py"), "--param", "a=1",
                         "--name", local_stack.name)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("pipeline add-numbers  run ") and "SUCCEEDED" in lines[0]
    assert lines[1].split()[:3] == ["✓", "add-numbers", "SUCCEEDED"]
    assert lines[2:] == ['outputs: {"text": "sum=3", "total": 3}']
    # Typed as the component declares them; selected by name like a pipeline.
    code, out, err = cli(capsys, "run", f"{DATA / 'add_numbers.py'}:add_numbers", "--param",
                         "a=x", "--name", local_stack.name)
    assert (code, out) == (2, "")
    assert err.startswith("error: arguments of pipeline 'add-numbers': 1 problem(s)\n"
                          "  - a: expected an integer, got 'x'")
    code, out, err = cli(capsys, "run", f"{DATA / 'components_only.py'}:write", "--param",
                         "text=hello", "--json", "--name", local_stack.name)
    assert code == 0, err
    report = json.loads(out)
    (task,) = report["tasks"]
    assert (task["key"], task["state"]) == ("write", "SUCCEEDED")
    data = report["outputs"]["data"]
    assert (data["type"], data["metadata"]) == ("system.Dataset", {"chars": 5})
    assert data == {"type": "system.Dataset", **task["outputs"]["data"]}
    assert Path(data["uri"]).read_text() == "hello"


def test_a_failure_inside_kfp_local_names_its_cause(local_stack: Stack,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # kfp.local alone exits with only succeeded and skipped tasks listed; the cause was in the
    # --json log only.
    code, out, err = cli(capsys, "run", f"{DATA / 'nested_loops.py'}:nested_loops", "--name",
                         local_stack.name)
    assert code == 1
    cause = ("kfp.local: Parent pipeline input argument 'pipelinechannel--groups-subvar-parts' "
             "not found.")
    lines = out.splitlines()
    assert "FAILED" in lines[0]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["✓", "show", "SUCCEEDED"], ["✗", "for-loop-1-iteration-0", "FAILED"],
        ["-", "show-2", "SKIPPED"]]
    assert lines[2].endswith(f"  {cause}")
    assert err.splitlines()[-1] == (
        f"error: pipeline 'nested-loops' failed at task for-loop-1-iteration-0: {cause} (fix: "
        "the local runner (kfp.local) failed here, the task's code never ran; see 'What "
        "kfp.local cannot run' in docs/pipelines.md, or run the pipeline on a cluster target)")
    code, out, err = cli(capsys, "run", f"{DATA / 'nested_loops.py'}:nested_loops", "--json", "--name",
                         local_stack.name)
    report = json.loads(out)
    assert report["error"] == ("kfp.local failed at for-loop-1-iteration-0: Parent pipeline "
                               "input argument 'pipelinechannel--groups-subvar-parts' not found.")
    assert report["failed_tasks"] == ["for-loop-1-iteration-0"]


def test_placeholders_kfp_local_cannot_resolve_are_refused_before_the_run(
        local_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # kfp.local alone: a bare "IndexError: list index out of range", the task SKIPPED.
    runs = Path(local_stack.run_dir) / "pipelines" / "runs"
    before = sorted(runs.iterdir()) if runs.exists() else []
    code, out, err = cli(capsys, "run", str(DATA / "placeholders.py"), "--name", local_stack.name)
    assert (code, out) == (3, "")
    assert err.splitlines()[-1] == (
        "error: pipeline 'placeholders' cannot run on the local target: task echo-2: "
        "dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER ({{$.pipeline_job_resource_name}}) cannot "
        "be resolved by kfp.local; task echo-3: dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER "
        "({{$.pipeline_job_create_time_utc}}), dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER "
        "({{$.pipeline_job_resource_name}}) cannot be resolved by kfp.local (fix: run it on a "
        "cluster target, or pass the value as a pipeline parameter)")
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before


def test_a_failed_run_without_a_failed_task_says_why_in_the_report() -> None:
    run = PipelineRun("0123456789ab", "p", FAILED, {}, {}, (TaskRun("a", "a", SKIPPED),), 0.1,
                      "/runs/0123456789ab", error="kfp.local failed at the pipeline: ValueError: x")
    assert run_report(run).splitlines() == [
        "pipeline p  run 0123456789ab  FAILED  (0.1s)",
        "  - a     SKIPPED",
        "failed: kfp.local failed at the pipeline: ValueError: x",
    ]
    assert failure(run) == ("pipeline 'p' failed", "kfp.local failed at the pipeline: ValueError: x",
                            "see /runs/0123456789ab")


def test_a_run_past_its_timeout_is_stopped_and_the_next_run_succeeds(
        local_stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    flag = tmp_path / "child.pid"
    pipelines = local_stack.run_dir / "pipelines"
    cached = sorted((pipelines / "cache").glob("*")) if (pipelines / "cache").exists() else []
    code, out, err = cli(capsys, "run", str(DATA / "sleeping.py"), "--param", "seconds=600",
                         "--param", f"flag={flag}", "--timeout", "8s", "--cache", "--name",
                         local_stack.name)
    assert (code, out) == (4, "")
    lines = err.splitlines()
    run_id = re.search(r"\(run ([0-9a-f]{12});", lines[-1])[1]  # type: ignore[index]
    assert lines[0] == "running pipeline 'sleeping' on stack 'test'"
    assert re.fullmatch(r"pipeline sleeping: task nap started \(\d+s\)", lines[1])
    assert lines[2:] == [
        f"error: timed out after 8s waiting for pipeline 'sleeping' (run {run_id}; its task "
        f"processes were stopped): running nap (fix: run it again with a larger --timeout than "
        f"8s; what the run wrote is under {pipelines / 'runs' / run_id})"]
    # The task's shell, its executor and the child it started (found as their descendant): gone.
    assert flag.exists(), "the task did not start its child within the timeout"
    assert process.pids_with(run_id) == []
    assert not process.is_alive(int(flag.read_text()), f"child-of-{run_id}")
    # Nothing half-done is reused: the stopped task left no cache entry, and the stack runs on.
    assert (sorted((pipelines / "cache").glob("*")) if (pipelines / "cache").exists() else []) == cached
    code, out, err = cli(capsys, "run", str(DATA / "sleeping.py"), "--param", "seconds=1",
                         "--timeout", "10m", "--name", local_stack.name)
    assert code == 0, err
    assert out.splitlines()[-1] == 'outputs: {"Output": 1}'


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_task_process_behind(
        local_stack: Stack, tmp_path: Path, sent: signal.Signals) -> None:
    flag = tmp_path / "child.pid"
    command = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", str(DATA / "sleeping.py"), "--param",
         "seconds=600", "--param", f"flag={flag}", "--name", local_stack.name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert process.wait_until(flag.exists, timeout=60), "the task never started its child"
        command.send_signal(sent)  # to the command alone: its tasks are for it to stop
        out, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
    assert (command.returncode, out) == (130, "")
    last = err.splitlines()[-1]
    run_id = re.search(r"run ([0-9a-f]{12}) stopped", last)[1]  # type: ignore[index]
    assert last == (f"error: interrupted; pipeline 'sleeping': run {run_id} stopped, its task "
                    "processes ended")
    assert process.pids_with(run_id) == []
    assert not process.is_alive(int(flag.read_text()), f"child-of-{run_id}")
