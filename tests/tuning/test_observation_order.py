"""`latest` among metrics reported within one microsecond, as Katib's DB orders them (issue 17, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main

pytestmark = pytest.mark.integration  # runs `appliance tune`, whose trial is a process

# A trainer writes JSON metrics lines faster than the clock moves: the accuracy lines carry RFC 3339
# times within one microsecond (and one a microsecond earlier); the loss lines carry time.time()
# floats, whose fraction Katib reads as nanoseconds (.1234987 is 1234987 ns), again within one
# microsecond. In the file, the later line has the earlier nanosecond.
EXPERIMENT = """\
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata:
  name: same-microsecond
spec:
  objective:
    type: maximize
    objectiveMetricName: accuracy
    additionalMetricNames: [loss]
    metricStrategies:
      - {name: accuracy, value: latest}
  algorithm:
    algorithmName: random
  parallelTrialCount: 1
  maxTrialCount: 1
  parameters:
    - name: run
      parameterType: categorical
      feasibleSpace: {list: ["1"]}
  metricsCollectorSpec:
    collector: {kind: File}
    source:
      fileSystemPath: {path: /var/log/katib/metrics.json, kind: File, format: JSON}
  trialTemplate:
    primaryContainerName: trainer
    trialParameters:
      - name: run
        reference: run
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            restartPolicy: Never
            containers:
              - name: trainer
                command: [python, -c]
                args:
                  - |
                    import sys
                    lines = [
                        '{"accuracy": "0.7", "timestamp": "2024-05-01T10:00:00.000001900Z"}',
                        '{"accuracy": "0.6", "timestamp": "2024-05-01T10:00:00.000001100Z"}',
                        '{"accuracy": "0.1", "timestamp": "2024-05-01T10:00:00.000000999Z"}',
                        '{"loss": "0.3", "timestamp": 1714557600.1234987}',
                        '{"loss": "0.4", "timestamp": 1714557600.1234012}',
                    ]
                    with open(sys.argv[2], "w") as out:
                        out.write("\\n".join(lines) + "\\n")
                  - "${trialParameters.run}"
                  - /var/log/katib/metrics.json
"""


def test_latest_is_the_last_line_of_the_latest_microsecond(
    tmp_path: Path, appliance_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "exp.yaml"
    source.write_text(EXPERIMENT)
    with pytest.raises(SystemExit) as done:
        main(["-q", "tune", str(source), "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    status = json.loads(out)["status"]
    assert status["currentOptimalTrial"]["observation"]["metrics"] == [
        # Katib stores microseconds: 1.9 µs and 1.1 µs tie, and the later line wins the tie.
        {"name": "accuracy", "min": "0.1", "max": "0.7", "latest": "0.6"},
        {"name": "loss", "min": "0.3", "max": "0.4", "latest": "0.4"},
    ]
