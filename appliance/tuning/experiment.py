"""Parse a Katib v1beta1 Experiment: Katib's defaulting and validation, every problem with its path."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.errors import BadInput, InvalidDocument
from appliance.tuning import algorithms, earlystopping, template
from appliance.tuning.metrics import TWO_GROUPS
from appliance.tuning.model import (
    API_VERSION,
    CATEGORICAL,
    DISCRETE,
    DOUBLE,
    INT,
    KIND,
    MAXIMIZE,
    MINIMIZE,
    Algorithm,
    Collector,
    Experiment,
    MetricStrategy,
    Objective,
    Parameter,
    Setting,
    TrialParameter,
)

NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 40
DEFAULT_NAMESPACE = "default"
DEFAULT_PARALLEL_TRIAL_COUNT = 3
DEFAULT_RESUME_POLICY = "Never"  # the API comment says LongRunning; Katib's defaulting code sets Never
RESUME_POLICIES = ("Never", "LongRunning", "FromVolume")
DEFAULT_METRICS_FILE = "/var/log/katib/metrics.log"
COLLECTOR_KINDS = ("StdOut", "File", "TensorFlowEvent", "PrometheusMetric", "Custom", "Push", "None")
LOCAL_COLLECTORS = ("StdOut", "File")
PARAMETER_TYPES = (INT, DOUBLE, CATEGORICAL, DISCRETE)
KUBEFLOW_JOB_KINDS = ("TFJob", "PyTorchJob", "XGBoostJob", "MPIJob", "TrainJob")
MAX_INT32 = 2**31 - 1

SPEC_KEYS = {
    "parameters", "objective", "algorithm", "earlyStopping", "trialTemplate",
    "parallelTrialCount", "maxTrialCount", "maxFailedTrialCount", "metricsCollectorSpec",
    "nasConfig", "resumePolicy",
}
OBJECTIVE_KEYS = {"type", "goal", "objectiveMetricName", "additionalMetricNames",
                  "metricStrategies"}
ALGORITHM_KEYS = {"algorithmName", "algorithmSettings"}
PARAMETER_KEYS = {"name", "parameterType", "feasibleSpace"}
FEASIBLE_KEYS = {"min", "max", "list", "step", "distribution"}
TEMPLATE_KEYS = {"retain", "trialSpec", "configMap", "trialParameters", "primaryPodLabels",
                 "primaryContainerName", "successCondition", "failureCondition"}
COLLECTOR_SPEC_KEYS = {"collector", "source"}
LOCAL_FIX = "edit the file; see docs/tuning.md for what the local target runs"


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.notes: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, required: bool = True) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, got {_kind(value)}")
            return None
        return value

    def known(self, mapping: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else str(key),
                         f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def string(self, value: Any, path: str, required: bool = False) -> str:
        if value is None or value == "":
            if required:
                self.add(path, "is required")
            return ""
        if not isinstance(value, str):
            self.add(path, f"must be a string, got {_kind(value)} (quote it: \"{value}\")")
            return ""
        return value

    def integer(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"must be an integer, got {_kind(value)}")
            return None
        if abs(value) > MAX_INT32:
            self.add(path, f"{value} does not fit in an int32")
            return None
        return value

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {_kind(value)}")
            return []
        return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def load(path: str | Path) -> Experiment:
    """Read and parse an Experiment file; every problem is reported at once (InvalidDocument)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"{file}: no such file", "", "pass the path of a Katib Experiment YAML") from exc
    except OSError as exc:
        raise BadInput(f"{file}: cannot be read", exc.strerror or str(exc)) from exc
    try:
        documents = [d for d in safe_yaml.load_all(text, str(file)) if d is not None]
    except yaml.YAMLError as exc:
        raise BadInput(f"{file} is not valid YAML", str(exc).replace("\n", " ")) from exc
    if len(documents) != 1:
        raise InvalidDocument(
            str(file), [f"document: expected one Experiment, found {len(documents)} documents"]
        )
    return parse(documents[0], str(file))


def parse(data: Any, source: str = "<experiment>") -> Experiment:
    """Validate and default a decoded Experiment manifest the way Katib's webhooks do."""
    p = _Problems()
    if not isinstance(data, dict):
        raise InvalidDocument(source, [f"document: expected a Katib Experiment mapping, got {_kind(data)}"])
    p.known(data, {"apiVersion", "kind", "metadata", "spec", "status"}, "")
    if data.get("apiVersion") != API_VERSION:
        p.add("apiVersion", f"expected {API_VERSION!r}, got {data.get('apiVersion')!r}")
    if data.get("kind") != KIND:
        p.add("kind", f"expected {KIND!r}, got {data.get('kind')!r}")
    metadata = p.mapping(data.get("metadata"), "metadata") or {}
    name = p.string(metadata.get("name"), "metadata.name", required=True)
    if name and not NAME_PATTERN.match(name):
        p.add("metadata.name", f"{name!r}: name must consist of lower case alphanumeric characters "
              "or '-', start with an alphabetic character, and end with an alphanumeric character")
    if len(name) > MAX_NAME_LENGTH:
        p.add("metadata.name", f"{name!r} is {len(name)} characters; Katib allows at most "
              f"{MAX_NAME_LENGTH}")
    namespace = p.string(metadata.get("namespace"), "metadata.namespace") or DEFAULT_NAMESPACE
    spec_in = p.mapping(data.get("spec"), "spec")
    if spec_in is None:
        raise InvalidDocument(source, p.items, LOCAL_FIX)
    p.known(spec_in, SPEC_KEYS, "spec")
    spec = copy.deepcopy(spec_in)

    parallel, max_trials, max_failed = _counts(spec, p)
    resume = p.string(spec.get("resumePolicy"), "spec.resumePolicy")
    if resume and resume not in RESUME_POLICIES:
        p.add("spec.resumePolicy", f"invalid ResumePolicyType {resume!r} "
              f"(use {', '.join(RESUME_POLICIES)})")
    spec["resumePolicy"] = resume or DEFAULT_RESUME_POLICY

    objective = _objective(spec, p)
    algorithm = _algorithm(spec.get("algorithm"), "spec.algorithm", p)
    early = None
    if spec.get("earlyStopping") is not None:
        early = _algorithm(spec.get("earlyStopping"), "spec.earlyStopping", p, early=True)
        if early is not None:
            p.items += earlystopping.validate(early)
    if spec.get("nasConfig") is not None:
        p.add("spec.nasConfig", "neural architecture search is not supported on the local target")
    parameters, parameters_ok = _parameters(spec, p)
    if parameters and spec.get("nasConfig") is not None:
        p.add("spec", "only one of spec.parameters and spec.nasConfig can be specified")
    trial = _trial_template(spec, parameters, p)
    collector = _collector(spec, trial, p)

    if algorithm is not None and parameters_ok and algorithm.name in algorithms.LOCAL_ALGORITHMS:
        problems, notes = algorithms.validate(algorithm, parameters, max_trials)
        p.items += problems
        p.notes += notes
    if max_trials is None and (objective is None or objective.goal is None):
        p.notes.append("spec: no maxTrialCount and no objective.goal: the experiment runs until "
                       "interrupted (as on Katib)")
    if p.items:
        raise InvalidDocument(source, p.items, LOCAL_FIX)
    assert objective is not None and algorithm is not None and trial is not None
    trial_spec, primary, trial_parameters = trial
    out_metadata = {**metadata, "name": name, "namespace": namespace}
    manifest = {"apiVersion": API_VERSION, "kind": KIND, "metadata": out_metadata, "spec": spec}
    return Experiment(
        name=name,
        namespace=namespace,
        manifest=manifest,
        parameters=tuple(parameters),
        objective=objective,
        algorithm=algorithm,
        early_stopping=early,
        trial_parameters=trial_parameters,
        trial_spec=trial_spec,
        primary_container=primary,
        parallel_trial_count=parallel,
        max_trial_count=max_trials,
        max_failed_trial_count=max_failed,
        collector=collector,
        notes=tuple(p.notes),
    )


def _counts(spec: dict[str, Any], p: _Problems) -> tuple[int, int | None, int | None]:
    parallel = p.integer(spec.get("parallelTrialCount"), "spec.parallelTrialCount")
    max_trials = p.integer(spec.get("maxTrialCount"), "spec.maxTrialCount")
    max_failed = p.integer(spec.get("maxFailedTrialCount"), "spec.maxFailedTrialCount")
    defaulted = parallel is None and spec.get("parallelTrialCount") is None
    if defaulted:
        parallel = DEFAULT_PARALLEL_TRIAL_COUNT
        spec["parallelTrialCount"] = parallel
    if max_failed is not None and max_failed < 0:
        p.add("spec.maxFailedTrialCount", "should not be less than 0")
    if max_trials is not None and max_trials <= 0:
        p.add("spec.maxTrialCount", "must be greater than 0")
    if parallel is not None and parallel <= 0:
        p.add("spec.parallelTrialCount", "must be greater than 0")
    if max_failed is not None and max_trials is not None and max_failed > max_trials:
        p.add("spec.maxFailedTrialCount",
              f"{max_failed} should be less than or equal to spec.maxTrialCount ({max_trials})")
    if parallel is not None and max_trials is not None and 0 < max_trials < parallel:
        how = " (the default)" if defaulted else ""
        p.add("spec.parallelTrialCount",
              f"{parallel}{how} should be less than or equal to spec.maxTrialCount ({max_trials})")
    return parallel or DEFAULT_PARALLEL_TRIAL_COUNT, max_trials, max_failed


def _objective(spec: dict[str, Any], p: _Problems) -> Objective | None:
    raw = p.mapping(spec.get("objective"), "spec.objective")
    if raw is None:
        return None
    p.known(raw, OBJECTIVE_KEYS, "spec.objective")
    kind = p.string(raw.get("type"), "spec.objective.type", required=True)
    if kind and kind not in (MINIMIZE, MAXIMIZE):
        p.add("spec.objective.type", f"must be {MINIMIZE} or {MAXIMIZE}, got {kind!r}")
    metric = p.string(raw.get("objectiveMetricName"), "spec.objective.objectiveMetricName",
                      required=True)
    goal = raw.get("goal")
    if goal is not None and (isinstance(goal, bool) or not isinstance(goal, (int, float))):
        p.add("spec.objective.goal", f"must be a number, got {_kind(goal)}")
        goal = None
    elif goal is not None and not math.isfinite(goal):
        p.add("spec.objective.goal", f"must be a finite number, got {goal}")
        goal = None
    additional = []
    for i, entry in enumerate(p.sequence(raw.get("additionalMetricNames"),
                                         "spec.objective.additionalMetricNames")):
        text = p.string(entry, f"spec.objective.additionalMetricNames[{i}]", required=True)
        if text:
            additional.append(text)
    if metric and metric in additional:
        p.add("spec.objective.additionalMetricNames",
              "should not contain spec.objective.objectiveMetricName")
    strategies: list[MetricStrategy] = []
    raw_strategies = p.sequence(raw.get("metricStrategies"), "spec.objective.metricStrategies")
    for i, entry in enumerate(raw_strategies):
        where = f"spec.objective.metricStrategies[{i}]"
        item = p.mapping(entry, where)
        if item is None:
            continue
        p.known(item, {"name", "value"}, where)
        s_name = p.string(item.get("name"), f"{where}.name", required=True)
        s_value = p.string(item.get("value"), f"{where}.value", required=True)
        if s_value and s_value not in ("min", "max", "latest"):
            p.add(f"{where}.value", f"must be min, max or latest, got {s_value!r}")
        strategies.append(MetricStrategy(s_name, s_value))
    # Katib's setDefaultObjective: the objective and every additional metric without a strategy
    # get the objective's direction (min/max). The code comment says "latest"; the code does not.
    direction = {MINIMIZE: "min", MAXIMIZE: "max"}.get(kind, "latest")
    named = {s.name for s in strategies}
    if metric not in named:
        strategies.append(MetricStrategy(metric, direction))
    for extra in additional:
        if extra not in named:
            strategies.append(MetricStrategy(extra, direction))
    raw["metricStrategies"] = [{"name": s.name, "value": s.value} for s in strategies]
    return Objective(
        type=kind,
        metric=metric,
        goal=float(goal) if goal is not None else None,
        additional=tuple(additional),
        strategies=tuple(strategies),
    )


def _algorithm(value: Any, path: str, p: _Problems, early: bool = False) -> Algorithm | None:
    raw = p.mapping(value, path)
    if raw is None:
        return None
    p.known(raw, ALGORITHM_KEYS, path)
    name = p.string(raw.get("algorithmName"), f"{path}.algorithmName", required=True)
    settings = []
    for i, entry in enumerate(p.sequence(raw.get("algorithmSettings"), f"{path}.algorithmSettings")):
        where = f"{path}.algorithmSettings[{i}]"
        item = p.mapping(entry, where)
        if item is None:
            continue
        p.known(item, {"name", "value"}, where)
        s_name = p.string(item.get("name"), f"{where}.name", required=True)
        s_value = p.string(item.get("value"), f"{where}.value")
        settings.append(Setting(s_name, s_value))
    if not name:
        return None
    if not early:
        if name not in algorithms.KATIB_ALGORITHMS:
            p.add(f"{path}.algorithmName", f"unknown algorithm {name!r} (katib-config lists "
                  f"{', '.join(algorithms.KATIB_ALGORITHMS)})")
            return None
        if name not in algorithms.LOCAL_ALGORITHMS:
            p.add(f"{path}.algorithmName", algorithms.not_local_message(name))
            return None
    return Algorithm(name, tuple(settings))


def _parameters(spec: dict[str, Any], p: _Problems) -> tuple[list[Parameter], bool]:
    raw = spec.get("parameters")
    if raw is None or raw == []:
        if spec.get("nasConfig") is None:
            p.add("spec.parameters", "spec.parameters or spec.nasConfig must be specified")
        return [], False
    before = len(p.items)
    parameters: list[Parameter] = []
    seen: set[str] = set()
    for i, entry in enumerate(p.sequence(raw, "spec.parameters")):
        where = f"spec.parameters[{i}]"
        item = p.mapping(entry, where)
        if item is None:
            continue
        p.known(item, PARAMETER_KEYS, where)
        name = p.string(item.get("name"), f"{where}.name", required=True)
        if name in seen:
            p.add(f"{where}.name", f"duplicate parameter name {name!r}")
        seen.add(name)
        kind = p.string(item.get("parameterType"), f"{where}.parameterType", required=True)
        if kind and kind not in PARAMETER_TYPES:
            p.add(f"{where}.parameterType", f"parameterType {kind!r} is not supported "
                  f"(use {', '.join(PARAMETER_TYPES)})")
            continue
        space = p.mapping(item.get("feasibleSpace"), f"{where}.feasibleSpace")
        if not space:
            if space is not None:
                p.add(f"{where}.feasibleSpace", "feasibleSpace must be specified")
            continue
        p.known(space, FEASIBLE_KEYS, f"{where}.feasibleSpace")
        parameter = _parameter(name, kind, space, f"{where}.feasibleSpace", p)
        if parameter is not None:
            parameters.append(parameter)
            if parameter.numeric:
                space["distribution"] = parameter.distribution
    return parameters, len(p.items) == before


def _parameter(name: str, kind: str, space: dict[str, Any], where: str,
               p: _Problems) -> Parameter | None:
    low = p.string(space.get("min"), f"{where}.min")
    high = p.string(space.get("max"), f"{where}.max")
    step = p.string(space.get("step"), f"{where}.step")
    distribution = p.string(space.get("distribution"), f"{where}.distribution") or "uniform"
    values: list[str] = []
    if kind in (CATEGORICAL, DISCRETE):
        if "min" in space or "max" in space or "step" in space:
            p.add(where, f"feasibleSpace .max, .min and .step are not supported for parameterType {kind}")
        for j, entry in enumerate(p.sequence(space.get("list"), f"{where}.list")):
            text = p.string(entry, f"{where}.list[{j}]", required=True)
            if text and ('"' in text or "\\" in text):
                p.add(f"{where}.list[{j}]", f"{text!r}: Katib substitutes values as raw text into "
                      "the template's JSON, so a value may not contain \" or \\")
            values.append(text)
        if not values:
            p.add(f"{where}.list", f"a non-empty list is required for parameterType {kind}")
        return Parameter(name, kind, values=tuple(values), distribution=distribution)
    if "list" in space:
        p.add(f"{where}.list", f"feasibleSpace.list is not supported for parameterType {kind}")
    if distribution not in algorithms.DISTRIBUTIONS:
        p.add(f"{where}.distribution", f"unknown distribution {distribution!r} "
              f"(use {', '.join(algorithms.DISTRIBUTIONS)})")
        return None
    if distribution not in algorithms.LOCAL_DISTRIBUTIONS:
        p.add(f"{where}.distribution", f"distribution {distribution!r} is not supported on the "
              "local target (its Optuna samplers take uniform or logUniform)")
    number = int if kind == INT else float
    parsed: dict[str, float] = {}
    for field_name, text in (("min", low), ("max", high), ("step", step)):
        if not text:
            if field_name != "step" and space.get(field_name) is None:
                p.add(f"{where}.{field_name}", f"is required for parameterType {kind}")
            continue
        try:
            parsed[field_name] = number(text)
            if not math.isfinite(parsed[field_name]):
                p.add(f"{where}.{field_name}", f"{text!r} is not a finite number")
                del parsed[field_name]
        except ValueError:
            p.add(f"{where}.{field_name}", f"{text!r} is not {'an integer' if kind == INT else 'a number'}")
    if "min" in parsed and "max" in parsed:
        if parsed["min"] > parsed["max"]:
            p.add(where, f"min {low} is greater than max {high}")
        elif distribution == "logUniform":
            floor = 1 if kind == INT else 1e-10
            if max(floor, parsed["min"]) > parsed["max"]:
                p.add(f"{where}.max", f"logUniform needs max >= {floor} (Optuna raises the "
                      f"low end to {floor})")
    if "step" in parsed and parsed["step"] <= 0:
        p.add(f"{where}.step", f"must be greater than 0, got {step}")
    return Parameter(name, kind, low, high, step, (), distribution)


def _trial_template(
    spec: dict[str, Any], parameters: list[Parameter], p: _Problems
) -> tuple[dict[str, Any], str, tuple[TrialParameter, ...]] | None:
    path = "spec.trialTemplate"
    raw = p.mapping(spec.get("trialTemplate"), path)
    if raw is None:
        return None
    p.known(raw, TEMPLATE_KEYS, path)
    primary = p.string(raw.get("primaryContainerName"), f"{path}.primaryContainerName", required=True)
    if raw.get("retain") is not None and not isinstance(raw.get("retain"), bool):
        p.add(f"{path}.retain", "must be a boolean")
    if raw.get("trialParameters") is None:
        p.add(f"{path}.trialParameters", "is required")
    trial_spec = p.mapping(raw.get("trialSpec"), f"{path}.trialSpec", required=False)
    if raw.get("configMap") is not None:
        if trial_spec is not None:
            p.add(path, "only one of spec.trialTemplate.trialSpec or spec.trialTemplate.configMap "
                  "can be specified")
        else:
            p.add(f"{path}.configMap", "a trial template in a ConfigMap is not supported on the "
                  "local target (there is no cluster to read it from); inline it as trialSpec")
        return None
    if trial_spec is None:
        if raw.get("trialSpec") is None:
            p.add(path, "spec.trialTemplate.trialSpec or spec.trialTemplate.configMap must be "
                  "specified")
        return None
    kind = trial_spec.get("kind")
    api_version = trial_spec.get("apiVersion")
    if not kind or not api_version:
        p.add(f"{path}.trialSpec", "apiVersion and kind must be specified")
    meta = trial_spec.get("metadata") or {}
    if isinstance(meta, dict) and (meta.get("name") or meta.get("namespace")):
        p.add(f"{path}.trialSpec.metadata", "metadata.name and metadata.namespace must be omitted")
    is_job = kind == "Job" and api_version == "batch/v1"
    if kind and api_version and not is_job:
        what = f"{api_version} {kind}"
        p.add(f"{path}.trialSpec", f"{what} trials are not supported on the local target; only "
              "batch/v1 Job trials run as local processes")
    # Defaults (Katib's setDefaultTrialTemplate), then the local target's limits on them.
    if is_job:
        raw.setdefault("successCondition", template.JOB_SUCCESS_CONDITION)
        raw.setdefault("failureCondition", template.JOB_FAILURE_CONDITION)
        for key, default in (("successCondition", template.JOB_SUCCESS_CONDITION),
                             ("failureCondition", template.JOB_FAILURE_CONDITION)):
            if raw.get(key) != default:
                p.add(f"{path}.{key}", f"custom conditions are not supported on the local target "
                      f"(the Job default is {default})")
    elif kind in KUBEFLOW_JOB_KINDS:
        pass  # already refused above
    trial_parameters = _trial_parameters(raw, trial_spec, parameters, p)
    if is_job and primary:
        _job(trial_spec, trial_parameters, primary, p)
    return trial_spec, primary, trial_parameters


def _trial_parameters(
    raw: dict[str, Any], trial_spec: dict[str, Any], parameters: list[Parameter], p: _Problems
) -> tuple[TrialParameter, ...]:
    path = "spec.trialTemplate.trialParameters"
    names = {parameter.name for parameter in parameters}
    text = template.template_text(trial_spec)
    result = []
    seen_names: set[str] = set()
    seen_refs: set[str] = set()
    non_meta = 0
    for i, entry in enumerate(p.sequence(raw.get("trialParameters"), path)):
        where = f"{path}[{i}]"
        item = p.mapping(entry, where)
        if item is None:
            continue
        p.known(item, {"name", "description", "reference"}, where)
        name = p.string(item.get("name"), f"{where}.name", required=True)
        reference = p.string(item.get("reference"), f"{where}.reference", required=True)
        description = p.string(item.get("description"), f"{where}.description")
        if "{" in name or "}" in name:
            p.add(f"{where}.name", f"{name!r} may not contain '{{' or '}}'")
            continue
        if name in seen_names:
            p.add(f"{where}.name", f"parameter name {name} can't be duplicated")
        if reference in seen_refs:
            p.add(f"{where}.reference", f"parameter reference {reference} can't be duplicated")
        seen_names.add(name)
        seen_refs.add(reference)
        meta = template.meta_key(reference) if reference else None
        if reference and meta is None:
            non_meta += 1
            if parameters and reference not in names:
                p.add(f"{where}.reference", f"parameter reference {reference} does not exist in "
                      f"spec.parameters ({', '.join(sorted(names))})")
        elif meta is not None and meta[0] in ("Labels", "Annotations"):
            metadata = trial_spec.get("metadata") or {}
            bag = metadata.get("labels" if meta[0] == "Labels" else "annotations") or {}
            if meta[1] not in bag:
                p.add(f"{where}.reference", f"{reference}: the trialSpec has no "
                      f"{meta[0][:-1].lower()} {meta[1]!r}")
        if name:
            marker = template.placeholder(name)
            if marker not in text:
                p.add(f"{where}.name", f"parameter name {name} in spec.trialParameters not found "
                      f"in spec.trialTemplate.trialSpec (expected {marker})")
            text = text.replace(marker, "test-value")
        result.append(TrialParameter(name, reference, description))
    for leftover in sorted(set(template.PLACEHOLDER.findall(text))):
        p.add("spec.trialTemplate.trialSpec", f"{leftover} is not declared in "
              "spec.trialTemplate.trialParameters")
    if parameters and non_meta != len(parameters):
        p.add(path, f"{non_meta} trialParameters reference spec.parameters but there are "
              f"{len(parameters)} parameters; each parameter needs exactly one trialParameter")
    return tuple(result)


def _job(trial_spec: dict[str, Any], trial_parameters: tuple[TrialParameter, ...], primary: str,
         p: _Problems) -> None:
    """What the local target can run of a batch Job: one container's command, args, env."""
    text = template.template_text(trial_spec)
    for parameter in trial_parameters:
        text = text.replace(template.placeholder(parameter.name), "test-value")
    try:
        job = json.loads(text)
    except json.JSONDecodeError:
        return
    base = "spec.trialTemplate.trialSpec.spec"
    job_spec = p.mapping(job.get("spec"), base)
    if job_spec is None:
        return
    for key in ("backoffLimit", "activeDeadlineSeconds", "completions", "parallelism"):
        value = p.integer(job_spec.get(key), f"{base}.{key}")
        if value is None:
            continue
        if key == "backoffLimit" and value < 0:
            p.add(f"{base}.{key}", "must be >= 0")
        if key == "activeDeadlineSeconds" and value <= 0:
            p.add(f"{base}.{key}", "must be > 0")
        if key in ("completions", "parallelism") and value != 1:
            p.add(f"{base}.{key}", "only one pod per trial runs on the local target (use 1)")
    pod_template = p.mapping(job_spec.get("template"), f"{base}.template")
    if pod_template is None:
        return
    pod = p.mapping(pod_template.get("spec"), f"{base}.template.spec")
    if pod is None:
        return
    where = f"{base}.template.spec"
    restart = pod.get("restartPolicy")
    if restart is None:
        p.add(f"{where}.restartPolicy", "is required for a Job (Never or OnFailure)")
    elif restart not in ("Never", "OnFailure"):
        p.add(f"{where}.restartPolicy", f"a Job needs Never or OnFailure, got {restart!r}")
    for key in ("initContainers", "volumes"):
        if pod.get(key):
            p.add(f"{where}.{key}", "not supported on the local target (a trial is one local "
                  "process on this machine's filesystem)")
    containers = p.sequence(pod.get("containers"), f"{where}.containers")
    found = False
    for i, container in enumerate(containers):
        c_where = f"{where}.containers[{i}]"
        if not isinstance(container, dict):
            p.add(c_where, "must be a mapping")
            continue
        if container.get("name") != primary:
            p.add(c_where, f"container {container.get('name')!r}: only the primary container "
                  f"({primary!r}) runs on the local target")
            continue
        found = True
        _container(container, c_where, p)
    if not found:
        p.add(f"{where}.containers", f"no container named {primary!r} "
              "(spec.trialTemplate.primaryContainerName)")


def _container(container: dict[str, Any], where: str, p: _Problems) -> None:
    command = p.sequence(container.get("command"), f"{where}.command")
    if not command:
        p.add(f"{where}.command", "is required on the local target (there is no image "
              "entrypoint to fall back to)")
    for key in ("command", "args"):
        for j, item in enumerate(p.sequence(container.get(key), f"{where}.{key}")):
            if not isinstance(item, str):
                p.add(f"{where}.{key}[{j}]", f"must be a string, got {_kind(item)}")
    for j, entry in enumerate(p.sequence(container.get("env"), f"{where}.env")):
        e_where = f"{where}.env[{j}]"
        item = p.mapping(entry, e_where)
        if item is None:
            continue
        p.string(item.get("name"), f"{e_where}.name", required=True)
        p.string(item.get("value"), f"{e_where}.value")
        if "valueFrom" in item:
            p.add(f"{e_where}.valueFrom", "not supported on the local target (no Secrets, "
                  "ConfigMaps or downward API); give a literal value")
    for key in ("envFrom", "volumeMounts"):
        if container.get(key):
            p.add(f"{where}.{key}", "not supported on the local target")
    p.string(container.get("workingDir"), f"{where}.workingDir")
    if container.get("image"):
        p.notes.append(f"{where}.image: {container['image']} is not pulled; the command runs "
                       "on this machine, with the appliance's Python first on PATH")


def _collector(
    spec: dict[str, Any],
    trial: tuple[dict[str, Any], str, tuple[TrialParameter, ...]] | None,
    p: _Problems,
) -> Collector:
    path = "spec.metricsCollectorSpec"
    raw = p.mapping(spec.get("metricsCollectorSpec"), path, required=False)
    if raw is None:
        raw = {}
        spec["metricsCollectorSpec"] = raw
    p.known(raw, COLLECTOR_SPEC_KEYS, path)
    collector = p.mapping(raw.get("collector"), f"{path}.collector", required=False)
    if collector is None:
        collector = raw.setdefault("collector", {"kind": "StdOut"})
    kind = p.string(collector.get("kind"), f"{path}.collector.kind") or "StdOut"
    collector["kind"] = kind
    if kind not in COLLECTOR_KINDS:
        p.add(f"{path}.collector.kind", f"invalid metrics collector kind {kind!r}")
        return Collector("StdOut")
    if kind not in LOCAL_COLLECTORS:
        p.add(f"{path}.collector.kind", f"metrics collector {kind} is not supported on the local "
              f"target (use {' or '.join(LOCAL_COLLECTORS)})")
        return Collector("StdOut")
    source = p.mapping(raw.get("source"), f"{path}.source", required=False)
    if source is None:
        source = {}
    filters: list[str] = []
    filter_spec = p.mapping(source.get("filter"), f"{path}.source.filter", required=False)
    if filter_spec:
        for i, entry in enumerate(p.sequence(filter_spec.get("metricsFormat"),
                                             f"{path}.source.filter.metricsFormat")):
            where = f"{path}.source.filter.metricsFormat[{i}]"
            text = p.string(entry, where, required=True)
            if not text:
                continue
            try:
                re.compile(text)
            except re.error as exc:
                p.add(where, f"invalid {text!r}: {exc}")
                continue
            if not TWO_GROUPS.match(text):
                p.add(where, f"invalid {text!r}: two top subexpressions are required")
                continue
            filters.append(text)
    if kind == "StdOut":
        return Collector("StdOut", filters=tuple(filters))
    source = raw.setdefault("source", source)
    fs = source.get("fileSystemPath")
    if fs is None:
        fs = source.setdefault("fileSystemPath", {})
    fs_map = p.mapping(fs, f"{path}.source.fileSystemPath")
    if fs_map is None:
        fs_map = {}
    fs_map.setdefault("kind", "File")
    fs_map.setdefault("path", DEFAULT_METRICS_FILE)
    fs_map.setdefault("format", "TEXT")
    file_path = p.string(fs_map.get("path"), f"{path}.source.fileSystemPath.path")
    if fs_map.get("kind") != "File" or not file_path.startswith("/"):
        p.add(f"{path}.source.fileSystemPath.path", "file path where metrics file exists is "
              "required: an absolute path with kind File")
    file_format = fs_map.get("format")
    if file_format not in ("TEXT", "JSON"):
        p.add(f"{path}.source.fileSystemPath.format", f"must be TEXT or JSON, got {file_format!r}")
    if file_format == "JSON" and filter_spec is not None:
        p.add(f"{path}.source.filter", "must be nil when format of metrics file is JSON")
    if trial is not None and file_path:
        trial_spec, primary, _ = trial
        container = template.primary_container(trial_spec, primary) or {}
        passed = json.dumps([container.get("command"), container.get("args"), container.get("env")])
        if file_path not in passed:
            p.add(f"{path}.source.fileSystemPath.path", f"{file_path} does not appear in the "
                  "primary container's command, args or env; on the local target trials share one "
                  "filesystem, so the engine gives each trial its own copy of this path and must "
                  "pass it to the trainer")
    return Collector("File", file_path, str(file_format), tuple(filters))
