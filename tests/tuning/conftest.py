"""Builders for tuning tests: Katib Experiment manifests around a tiny, scriptable trial."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from appliance.targets.local.tuning.engine import LocalTuningEngine

TRIAL = str(Path(__file__).parent / "data" / "trial.py")


def manifest(
    args: list[str] | None = None,
    *,
    name: str = "exp",
    parameters: list[dict[str, Any]] | None = None,
    trial_parameters: list[dict[str, str]] | None = None,
    objective: dict[str, Any] | None = None,
    algorithm: dict[str, Any] | None = None,
    command: list[str] | None = None,
    job: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A valid Experiment whose trials run tests/tuning/data/trial.py with `args`."""
    parameters = parameters if parameters is not None else [
        {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
    ]
    if trial_parameters is None:
        trial_parameters = [{"name": p["name"], "reference": p["name"]} for p in parameters]
    if args is None:
        args = [f"--print=accuracy=${{trialParameters.{parameters[0]['name']}}}"]
    primary: dict[str, Any] = {
        "name": "training",
        "command": command if command is not None else ["python", TRIAL],
        "args": args,
        **(container or {}),
    }
    body: dict[str, Any] = {
        "objective": objective or {"type": "maximize", "objectiveMetricName": "accuracy"},
        "algorithm": algorithm or {"algorithmName": "random",
                                   "algorithmSettings": [{"name": "random_state", "value": "1"}]},
        "parallelTrialCount": 1,
        "maxTrialCount": 2,
        "parameters": parameters,
        "trialTemplate": {
            "primaryContainerName": "training",
            "trialParameters": trial_parameters,
            "trialSpec": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "spec": {
                    "backoffLimit": 0,
                    **(job or {}),
                    "template": {"spec": {"restartPolicy": "Never", "containers": [primary]}},
                },
            },
        },
    }
    body.update(spec)
    return {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
            "metadata": {"name": name}, "spec": copy.deepcopy(body)}


def categorical(name: str, *values: str) -> dict[str, Any]:
    return {"name": name, "parameterType": "categorical", "feasibleSpace": {"list": list(values)}}


@pytest.fixture
def engine(tmp_path: Path) -> LocalTuningEngine:
    return LocalTuningEngine(tmp_path / "work")


class Kit:
    """The builders, handed to tests as a fixture (test modules cannot import conftest)."""

    trial = TRIAL
    manifest = staticmethod(manifest)
    categorical = staticmethod(categorical)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
