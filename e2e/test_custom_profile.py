"""A stack started from a profile file with a name of its own works with every command after `up`:
the stack keeps the decoded profile, nothing looks the name up among the shipped profiles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROFILE = """\
apiVersion: appliance.dev/v1alpha1
kind: Profile
metadata:
  name: team-a
  description: a team's own profile, not shipped
spec:
  components: [object-store, pipelines, tuning, serving]
"""

EXPERIMENT = f"""\
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata:
  name: custom
spec:
  objective: {{type: maximize, objectiveMetricName: accuracy}}
  algorithm: {{algorithmName: grid}}
  parallelTrialCount: 1
  maxTrialCount: 2
  parameters:
    - name: x
      parameterType: int
      feasibleSpace: {{min: "1", max: "2"}}
  trialTemplate:
    primaryContainerName: main
    trialParameters:
      - {{name: x, reference: x}}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            restartPolicy: Never
            containers:
              - name: main
                image: python:3.11
                command: ["{sys.executable}", "-c", "print('accuracy=0.${{trialParameters.x}}')"]
"""


def test_every_command_works_on_a_stack_of_a_custom_profile_file(cli, tmp_path: Path) -> None:
    profile = tmp_path / "team.yaml"
    profile.write_text(PROFILE)
    cli("up", "--profile", str(profile), "--name", "t1", check=True)

    status = cli("status", "--name", "t1", check=True)
    assert status.stdout.splitlines()[0].startswith("stack t1: target local, profile team-a, up ")

    env = cli("env", "--name", "t1", check=True)
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in env.stdout

    run = cli("run", str(ROOT / "conformance/pipelines/condition.py"), "--name", "t1", timeout=300,
              check=True)
    assert "condition" in run.stderr + run.stdout

    experiment = tmp_path / "exp.yaml"
    experiment.write_text(EXPERIMENT)
    tuned = cli("tune", str(experiment), "--name", "t1", "--json", timeout=300, check=True)
    best = json.loads(tuned.stdout)["status"]["currentOptimalTrial"]
    assert best["observation"]["metrics"][0]["latest"] == "0.2"

    model = tmp_path / "m.json"
    made = cli("-q", "serve", "deploy", "m1", "--model-uri", str(model), "--stack", "t1")
    assert made.returncode == 2 and "cannot read model" in made.stderr  # the stack was found
    import subprocess

    subprocess.run([sys.executable, "-m", "stubs.model", "create", "--name", "m1", "--version", "1",
                    "--accuracy", "1.0", "--out", str(model)], check=True, capture_output=True)
    cli("serve", "deploy", "m1", "--model-uri", str(model), "--stack", "t1", check=True)
    listed = json.loads(cli("serve", "list", "--json", "--stack", "t1", check=True).stdout)
    assert [(row["name"], row["version"], row["healthy"]) for row in listed] == [("m1", "1", True)]
    cli("serve", "delete", "m1", "--stack", "t1", check=True)

    shown = cli("registry", "show", "churn", "--name", "t1")
    assert shown.returncode == 2
    assert "no model named 'churn' in the registry of stack 't1'" in shown.stderr

    proved = cli("conformance", "--stack", "t1", "--area", "object-store", timeout=300)
    assert proved.returncode == 0, proved.stderr
    assert "testing stack 't1' (local, profile team-a)" in proved.stderr

    for result in (status, env, run, tuned, shown, proved):
        assert "unknown profile" not in result.stderr
    cli("down", "--name", "t1", check=True)
    assert not (cli.home / "stacks" / "t1").exists()
