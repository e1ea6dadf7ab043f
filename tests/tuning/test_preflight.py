"""Trials that cannot start on this machine are refused before the first one (issue 17, item 6)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main
from appliance.targets.local.tuning import limits, preflight

# Katib's examples/v1beta1/hp-tuning/random.yaml, as a user copies it: the trainer is in the image.
UPSTREAM_RANDOM = """\
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata:
  namespace: kubeflow
  name: random
spec:
  objective:
    type: maximize
    goal: 0.99
    objectiveMetricName: Validation-accuracy
    additionalMetricNames:
      - Train-accuracy
  algorithm:
    algorithmName: random
  parallelTrialCount: 3
  maxTrialCount: 12
  maxFailedTrialCount: 3
  parameters:
    - name: lr
      parameterType: double
      feasibleSpace:
        min: "0.01"
        max: "0.03"
    - name: num-layers
      parameterType: int
      feasibleSpace:
        min: "2"
        max: "5"
    - name: optimizer
      parameterType: categorical
      feasibleSpace:
        list:
          - sgd
          - adam
          - ftrl
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
      - name: learningRate
        description: Learning rate for the training model
        reference: lr
      - name: numberLayers
        description: Number of training model layers
        reference: num-layers
      - name: optimizer
        description: Training model optimizer (sdg, adam or ftrl)
        reference: optimizer
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
              - name: training-container
                image: docker.io/kubeflowkatib/mxnet-mnist:v0.15.0
                command:
                  - "python3"
                  - "/opt/mxnet-mnist/mnist.py"
                  - "--batch-size=64"
                  - "--lr=${trialParameters.learningRate}"
                  - "--num-layers=${trialParameters.numberLayers}"
                  - "--optimizer=${trialParameters.optimizer}"
            restartPolicy: Never
"""
CONTAINER = "spec.trialTemplate.trialSpec.spec.template.spec.containers[0]"
FIX = ("give the container a command that exists on this machine (e.g. your own copy of the script, "
       "with workingDir set for a relative path), or run the Experiment on a cluster with Katib, "
       "where the image is pulled")


def test_an_upstream_example_is_refused_at_once_naming_image_command_and_ways_out(
    tmp_path: Path, appliance_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not Path("/opt/mxnet-mnist/mnist.py").exists()  # as on any machine without the image
    source = tmp_path / "random.yaml"
    source.write_text(UPSTREAM_RANDOM)
    # This module is fast tier: starting any trial process would fail the test (tests/conftest.py).
    with pytest.raises(SystemExit) as done:
        main(["tune", str(source)])
    out, err = capsys.readouterr()
    assert (done.value.code, out) == (2, "")
    assert err.splitlines() == [
        f"error: {source}: 1 problem(s)",
        f"  - {CONTAINER}.command: python3 /opt/mxnet-mnist/mnist.py --batch-size=64 "
        "'--lr=${trialParameters.learningRate}' '--num-layers=${trialParameters.numberLayers}' "
        "'--optimizer=${trialParameters.optimizer}' cannot start on this machine: "
        "/opt/mxnet-mnist/mnist.py does not exist; it comes from the image "
        "docker.io/kubeflowkatib/mxnet-mnist:v0.15.0, which the local target does not pull",
        f"  fix: {FIX}",
    ]
    assert not (appliance_home / "tuning").exists()  # no trial, no work directory


def check(kit: Any, command: list[str], args: list[str] | None = None, **container: Any) -> list[str]:
    """The preflight's problems for a trial running `command` + `args` (or [] when it may start)."""
    data = kit.manifest(args=args if args is not None else ["${trialParameters.x}"],
                        command=command, container=container)
    validation = limits.validate(data, "exp.yaml")
    return list(validation.problems)


def test_commands_that_can_start_pass(kit: Any, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('accuracy=1')\n")
    python = Path(sys.executable).name
    for command in (
        ["python", str(script)],
        ["python3", "-u", "-W", "ignore", "-X", "dev", str(script)],
        ["python", "-c", "print(1)"],
        ["python", "-m", "stubs.train"],
        ["sh", "-c", "echo accuracy=1"],
        ["bash", "-e", "-o", "pipefail", "-c", "true"],
        [sys.executable, str(script)],
        [python, "--", str(script)],
        ["${trialParameters.x}", "/no/such/file"],  # known only per trial
        ["python", "/opt/${trialParameters.x}/train.py"],
    ):
        assert check(kit, command) == [], command
    assert check(kit, ["python", "train.py"], workingDir=str(tmp_path)) == []
    assert check(kit, ["python", "$(SCRIPT)"],
                 env=[{"name": "SCRIPT", "value": str(script)}]) == []


@pytest.mark.parametrize(("command", "container", "reason"), [
    (["no-such-trainer-xyz", "--lr=1"], {}, "no-such-trainer-xyz is not on PATH"),
    (["python3", "/opt/trainer/train.py"], {}, "/opt/trainer/train.py does not exist"),
    (["python", "-u", "/opt/trainer/train.py"], {}, "/opt/trainer/train.py does not exist"),
    (["bash", "-e", "/opt/trainer/run.sh"], {}, "/opt/trainer/run.sh does not exist"),
    (["python", "$(SCRIPT)"], {"env": [{"name": "SCRIPT", "value": "/opt/x.py"}]},
     "/opt/x.py does not exist"),
    (["python", "train.py"], {}, "train.py is relative to the trial's own directory, which starts "
                                 "empty (set workingDir to the directory that holds it)"),
    (["/opt/trainer/bin/train"], {}, "/opt/trainer/bin/train does not exist"),
])
def test_commands_that_cannot_start_are_named(kit: Any, command: list[str], container: dict[str, Any],
                                              reason: str) -> None:
    args = ["${trialParameters.x}"]
    # The command as it would run: $(VAR) expanded from the container's env, as the kubelet does.
    shown = " ".join([*command, "'${trialParameters.x}'"]).replace("$(SCRIPT)", "/opt/x.py")
    assert check(kit, command, args, **container) == [
        f"{CONTAINER}.command: {shown} cannot start on this machine: {reason}"]


def test_files_that_are_there_but_cannot_run(kit: Any, tmp_path: Path) -> None:
    program = tmp_path / "train"
    program.write_text("#!/bin/sh\n")
    assert check(kit, [str(program)]) == [
        f"{CONTAINER}.command: {program} '${{trialParameters.x}}' cannot start on this machine: "
        f"{program} is not executable"]
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    assert check(kit, [str(program)]) == []
    assert check(kit, ["python", str(tmp_path)]) == [
        f"{CONTAINER}.command: python {tmp_path} '${{trialParameters.x}}' cannot start on this "
        f"machine: {tmp_path} is a directory"]
    assert check(kit, ["python", "-c", "1"], workingDir=str(tmp_path / "gone")) == [
        f"{CONTAINER}.workingDir: {tmp_path / 'gone'} does not exist on this machine"]


def test_the_path_is_the_trials_own(kit: Any, tmp_path: Path) -> None:
    """The container's PATH, else this process's with the appliance's Python first, decides."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    trainer = bin_dir / "my-trainer"
    trainer.write_text("#!/bin/sh\n")
    trainer.chmod(0o755)
    assert check(kit, ["my-trainer"]) == [
        f"{CONTAINER}.command: my-trainer '${{trialParameters.x}}' cannot start on this machine: "
        "my-trainer is not on PATH"]
    assert check(kit, ["my-trainer"], env=[{"name": "PATH", "value": str(bin_dir)}]) == []
    exp = limits.parse(kit.manifest(command=["my-trainer"], args=["${trialParameters.x}"],
                                    container={"env": [{"name": "PATH", "value": str(bin_dir)}]}))
    assert preflight.problems(exp, {"PATH": os.defpath}) == []  # the container's PATH wins
