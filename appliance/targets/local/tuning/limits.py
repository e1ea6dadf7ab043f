"""The local target's admission of a Katib Experiment: what it refuses of what Katib accepts.

Katib's own defaulting and validation (appliance.tuning.experiment) are every target's. These are
the local target's refusals on top: its hooks are asked where Katib's validation reaches each part
of the document, so `appliance tune` lists Katib's problems and these in one list, in document
order. A cluster gets none of them. Once the document passes, the preflight checks that the trial
command can start on this machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.targets.local.tuning import preflight
from appliance.tuning import experiment as experiments
from appliance.tuning import template
from appliance.tuning.experiment import Limits, Validation
from appliance.tuning.model import Experiment, Setting

LOCAL_ALGORITHMS = ("random", "tpe", "grid", "multivariate-tpe", "cmaes", "sobol")
LOCAL_DISTRIBUTIONS = ("uniform", "logUniform")
LOCAL_COLLECTORS = ("StdOut", "File")
NOT_LOCAL_REASON = {
    "bayesianoptimization": "it needs scikit-optimize's GP optimizer, which the local engine does not ship",
    "hyperband": "its bracket scheduling is not implemented by the local engine",
    "pbt": "population based training needs Katib's suggestion volume",
    "enas": "neural architecture search is out of scope",
    "darts": "neural architecture search is out of scope",
}
LOCAL_FIX = "edit the file; see docs/tuning.md for what the local target runs"


def not_local_message(name: str) -> str:
    return (
        f"algorithm {name!r} is not supported on the local target ({NOT_LOCAL_REASON[name]}); "
        f"use one of {', '.join(LOCAL_ALGORITHMS)}, or run it on a cluster with Katib"
    )


class LocalLimits(Limits):
    """A trial is one local process: the primary container of an inline batch Job, its literal
    command and env; suggestions come from the Optuna samplers the local engine ships."""

    fix = LOCAL_FIX

    def spec(self, spec: Mapping[str, Any]) -> list[str]:
        if spec.get("nasConfig") is not None:
            return ["spec.nasConfig: neural architecture search is not supported on the local target"]
        return []

    def algorithm(self, name: str, path: str) -> list[str]:
        return [] if name in LOCAL_ALGORITHMS else [f"{path}: {not_local_message(name)}"]

    def setting(self, algorithm: str, setting: Setting, where: str) -> list[str]:
        if algorithm == "cmaes" and setting.name == "restart_strategy" and setting.value in (
                "ipop", "bipop"):
            return [f"{where}: restart_strategy {setting.value!r} is not supported on the local "
                    "target (Optuna's CmaEsSampler dropped restart strategies in 4.4); use 'none' "
                    "or omit it"]
        return []

    def distribution(self, distribution: str, where: str) -> list[str]:
        if distribution in LOCAL_DISTRIBUTIONS:
            return []
        return [f"{where}: distribution {distribution!r} is not supported on the local target (its "
                "Optuna samplers take uniform or logUniform)"]

    def template(self, trial_template: Mapping[str, Any], path: str) -> list[str]:
        if trial_template.get("configMap") is not None:
            return [f"{path}.configMap: a trial template in a ConfigMap is not supported on the local "
                    "target (there is no cluster to read it from); inline it as trialSpec"]
        trial_spec = trial_template.get("trialSpec") or {}
        trial_kind, api_version = trial_spec.get("kind"), trial_spec.get("apiVersion")
        if not trial_kind or not api_version:
            return []  # Katib's problem already
        if (trial_kind, api_version) != ("Job", "batch/v1"):
            return [f"{path}.trialSpec: {api_version} {trial_kind} trials are not supported on the "
                    "local target; only batch/v1 Job trials run as local processes"]
        return [
            f"{path}.{key}: custom conditions are not supported on the local target (the Job "
            f"default is {default})"
            for key, default in (("successCondition", template.JOB_SUCCESS_CONDITION),
                                 ("failureCondition", template.JOB_FAILURE_CONDITION))
            if trial_template.get(key) != default
        ]

    def job(self, job_spec: Mapping[str, Any], where: str) -> list[str]:
        return [
            f"{where}.{key}: only one pod per trial runs on the local target (use 1)"
            for key in ("completions", "parallelism")
            if _integer(job_spec.get(key)) not in (None, 1)
        ]

    def pod(self, pod: Mapping[str, Any], where: str) -> list[str]:
        return [
            f"{where}.{key}: not supported on the local target (a trial is one local process on this "
            "machine's filesystem)"
            for key in ("initContainers", "volumes")
            if pod.get(key)
        ]

    def container(self, container: Mapping[str, Any], where: str, primary: str) -> list[str]:
        if container.get("name") != primary:
            return [f"{where}: container {container.get('name')!r}: only the primary container "
                    f"({primary!r}) runs on the local target"]
        problems = []
        if not container.get("command"):
            problems.append(f"{where}.command: is required on the local target (there is no image "
                            "entrypoint to fall back to)")
        env = container.get("env")
        for j, entry in enumerate(env if isinstance(env, list) else []):
            if isinstance(entry, Mapping) and "valueFrom" in entry:
                problems.append(f"{where}.env[{j}].valueFrom: not supported on the local target (no "
                                "Secrets, ConfigMaps or downward API); give a literal value")
        problems += [f"{where}.{key}: not supported on the local target"
                     for key in ("envFrom", "volumeMounts") if container.get(key)]
        return problems

    def collector(self, collector_kind: str, where: str) -> list[str]:
        if collector_kind in LOCAL_COLLECTORS:
            return []
        return [f"{where}: metrics collector {collector_kind} is not supported on the local target "
                f"(use {' or '.join(LOCAL_COLLECTORS)})"]

    def metrics_file(self, path: str, container: Mapping[str, Any], where: str) -> list[str]:
        passed = json.dumps([container.get("command"), container.get("args"), container.get("env")])
        if path in passed:
            return []
        return [f"{where}: {path} does not appear in the primary container's command, args or env; "
                "on the local target trials share one filesystem, so the engine gives each trial its "
                "own copy of this path and must pass it to the trainer"]

    def notes(self, experiment: Experiment) -> list[str]:
        found = preflight.primary(experiment)
        if found is None or not found[1].get("image"):
            return []
        where, container = found
        return [f"{where}.image: {container['image']} is not pulled; the command runs on this "
                "machine, with the appliance's Python first on PATH"]


LOCAL = LocalLimits()


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def admit(data: Any, source: str = "<experiment>") -> list[str]:
    """The local target's refusals of a decoded Experiment (Katib's own problems not included)."""
    return list(experiments.validate(data, source, LOCAL).refused)


def validate(data: Any, source: str = "<experiment>",
             env: Mapping[str, str] | None = None) -> Validation:
    """Katib's validation with the local refusals in place; once that passes, the preflight (can
    the trial command start here, with `env`, by default the environment every trial gets)."""
    validation = experiments.validate(data, source, LOCAL)
    if validation.experiment is None:
        return validation
    problems = preflight.problems(validation.experiment, env)
    if not problems:
        return validation
    return Validation(source, None, tuple(problems), tuple(problems), validation.notes,
                      preflight.FIX)


def parse(data: Any, source: str = "<experiment>") -> Experiment:
    """What the local target runs of a decoded Experiment; InvalidDocument lists every problem."""
    return validate(data, source).result()


def load(path: str | Path) -> Experiment:
    """What the local target runs of an Experiment file; InvalidDocument lists every problem."""
    return parse(experiments.read(path), str(path))
