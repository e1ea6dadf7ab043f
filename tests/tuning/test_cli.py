"""`appliance tune` as glue: reports, the whole Experiment on -o/--json, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.cli import main
from appliance.runtime.process import wait_until
from appliance.stack import Stack


@pytest.fixture
def tune(appliance_home: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*args: str, quiet: bool = False) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            main([*(["-q"] if quiet else []), "tune", *args])
        captured = capsys.readouterr()
        return int(done.value.code or 0), captured.out, captured.err

    return invoke


def write(tmp_path: Path, data: dict[str, Any], name: str = "exp.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_success_prints_a_report_and_writes_the_whole_experiment(
    tune: Any, kit: Any, tmp_path: Path
) -> None:
    data = kit.manifest(name="cli-ok", parameters=[kit.categorical("x", "0.25", "0.75")],
                        algorithm={"algorithmName": "grid"})
    out = tmp_path / "new" / "status.yaml"  # missing directories are created
    code, stdout, stderr = tune(write(tmp_path, data), "-o", str(out))
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == "experiment cli-ok: Succeeded (ExperimentMaxTrialsReached), 2 trials: 2 succeeded"
    assert lines[1].startswith("best trial cli-ok-") and lines[1].endswith(": accuracy=0.75 with x=0.75")
    assert lines[2].split() == ["TRIAL", "STATUS", "x", "accuracy"]
    assert sorted(line.split()[1:] for line in lines[3:5]) == [
        ["Succeeded", "0.25", "0.25"], ["Succeeded", "0.75", "0.75"]]
    assert "tuning cli-ok (no stack: the trials need no object store)" in stderr
    assert "✓ experiment cli-ok: Succeeded (ExperimentMaxTrialsReached)" in stderr
    document = yaml.safe_load(out.read_text())
    assert list(document) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert document["spec"]["resumePolicy"] == "Never"
    assert document["status"]["trialsSucceeded"] == 2
    best = document["status"]["currentOptimalTrial"]
    assert best["parameterAssignments"] == [{"name": "x", "value": "0.75"}]


def test_json_is_the_whole_experiment_on_stdout(tune: Any, kit: Any, tmp_path: Path) -> None:
    code, stdout, stderr = tune(write(tmp_path, kit.manifest(name="cli-json")), "--json", quiet=True)
    assert code == 0 and stderr == ""
    document = json.loads(stdout)
    assert (document["apiVersion"], document["kind"], document["metadata"]["name"]) == (
        "kubeflow.org/v1beta1", "Experiment", "cli-json")
    assert document["status"]["trials"] == 2


def test_an_invalid_experiment_lists_every_problem_and_exits_2(tune: Any, kit: Any, tmp_path: Path) -> None:
    data = kit.manifest(maxTrialCount=0)
    data["spec"]["algorithm"]["algorithmName"] = "hyperband"
    code, stdout, stderr = tune(write(tmp_path, data))
    assert code == 2 and stdout == ""
    assert "exp.yaml: 2 problem(s)" in stderr
    assert "  - spec.maxTrialCount: must be greater than 0" in stderr
    assert ("  - spec.algorithm.algorithmName: algorithm 'hyperband' is not supported on the local "
            "target") in stderr
    assert "Traceback" not in stderr


def test_a_failed_experiment_exits_1(tune: Any, kit: Any, tmp_path: Path) -> None:
    data = kit.manifest(name="cli-fail", args=["--exit=2", "--tag=${trialParameters.x}"],
                        maxFailedTrialCount=1)
    code, stdout, stderr = tune(write(tmp_path, data))
    assert code == 1
    assert stdout.splitlines()[0] == "experiment cli-fail: Failed (ExperimentFailed), 1 trials: 1 failed"
    assert "TrialFailed. Job reason: BackoffLimitExceeded" in stdout
    assert ("experiment cli-fail: Failed (ExperimentFailed); trial logs in" in stderr
            and "Experiment has failed because max failed count has reached" in stderr)


@pytest.mark.parametrize(("output", "error"), [
    ("/proc/status.yaml", "error: -o /proc/status.yaml: cannot write: creating a file in /proc failed: "
                          "No such file or directory (fix: choose another -o path in a directory you "
                          "can write)"),
    ("{tmp}/exp.yaml/status.yaml", "error: -o {tmp}/exp.yaml/status.yaml: cannot write: {tmp}/exp.yaml "
                                   "is not a directory (fix: choose another -o path in a directory you "
                                   "can write)"),
])
def test_an_unwritable_output_is_refused_before_any_trial_runs(
    tune: Any, kit: Any, tmp_path: Path, appliance_home: Path, output: str, error: str
) -> None:
    record = tmp_path / "ran.json"
    data = kit.manifest(name="cli-out", args=["--print=accuracy=${trialParameters.x}", f"--record={record}"])
    source = write(tmp_path, data)
    code, stdout, stderr = tune(source, "-o", output.format(tmp=tmp_path))
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == [error.format(tmp=tmp_path)]
    assert not record.exists() and not (appliance_home / "tuning").exists()


def test_an_output_that_fails_at_the_end_is_a_clean_error(
    tune: Any, kit: Any, tmp_path: Path, appliance_home: Path
) -> None:
    # The one trial puts a file in place of the output's directory after the up-front check passed.
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    data = kit.manifest(name="cli-late", maxTrialCount=1,
                        command=["sh", "-c", 'rmdir "$1" && touch "$1" && echo accuracy=$0'],
                        args=["${trialParameters.x}", str(out_dir)])
    code, stdout, stderr = tune(write(tmp_path, data), "-o", str(out_dir / "status.yaml"))
    assert code == 2
    assert stdout.startswith("experiment cli-late: Succeeded (ExperimentMaxTrialsReached), 1 trials")
    saved = appliance_home / "tuning" / "cli-late" / "experiment.json"
    assert stderr.splitlines()[-1] == (
        f"error: -o {out_dir}/status.yaml: cannot write: {out_dir}: File exists; the Experiment is also "
        f"in {saved} (fix: choose another -o path in a directory you can write)")
    assert "Traceback" not in stderr
    assert json.loads(saved.read_text())["status"]["trialsSucceeded"] == 1


def test_object_store_experiments_need_a_stack(tune: Any, kit: Any, tmp_path: Path) -> None:
    data = kit.manifest(args=["--print=accuracy=${trialParameters.x}", "--data=s3://mlpipeline/d.csv"])
    code, _, stderr = tune(write(tmp_path, data))
    assert code == 3
    assert "the trials use s3:// URIs but no stack is up" in stderr and "appliance up" in stderr
    code, _, stderr = tune(write(tmp_path, kit.manifest()), "--name", "nosuch")
    assert code == 2 and "no stack named 'nosuch' is up" in stderr


def test_trials_of_a_stack_get_its_object_store(
    local_stack: Stack, kit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "facts.json"
    data = kit.manifest(name="cli-stack", maxTrialCount=1,
                        args=["--print=accuracy=${trialParameters.x}", f"--record={record}"])
    with pytest.raises(SystemExit) as done:
        main(["tune", write(tmp_path, data), "--name", local_stack.name])
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    assert f"tuning cli-stack (stack {local_stack.name})" in err
    facts = json.loads(record.read_text())
    assert facts["env"]["AWS_ENDPOINT_URL"] == local_stack.object_store.endpoint
    assert facts["cwd"].startswith(str(local_stack.run_dir / "tuning" / "cli-stack"))


def test_ctrl_c_stops_the_trials_and_exits_130(kit: Any, tmp_path: Path, appliance_home: Path) -> None:
    pids = tmp_path / "pids.json"
    data = kit.manifest(name="cli-int", maxTrialCount=1,
                        args=["--print=accuracy=${trialParameters.x}", f"--spawn-sleeper={pids}",
                              "--sleep=60"])
    script = "from appliance.cli import main; main()"
    command = [sys.executable, "-c", script, "tune", write(tmp_path, data)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "APPLIANCE_HOME": str(appliance_home)})

    def trial_running() -> bool:
        """The trial wrote its pid file, and it and its grandchild `sleep 60` are running."""
        try:
            found = json.loads(pids.read_text())
            sleeper = Path(f"/proc/{found['sleeper']}/cmdline").read_bytes()
        except (FileNotFoundError, json.JSONDecodeError):  # not yet written, or half-written
            return False
        return running(found["trial"]) and sleeper == b"sleep\x0060\x00"  # exec'd, not only forked

    def exited() -> str | None:
        return None if process.poll() is None else f"tune exited {process.returncode} before the trial ran"

    assert wait_until(trial_running, 60, 0.05, abort=exited), "the trial did not start within 60 s"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    for pid in json.loads(pids.read_text()).values():
        # Signals reach the orphaned sleeper asynchronously: wait for its death, bounded.
        assert wait_until(lambda p=pid: not running(p), 10.0), f"process {pid} still runs"


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
