"""Katib's defaulting and validation of a v1beta1 Experiment, every problem with its field path.

This is what every target needs before it runs an Experiment or submits it to a cluster. A target
that cannot run some of what Katib accepts passes its `Limits`: each hook is asked where Katib's
validation reaches that part of the document, so Katib's problems and the target's refusals form
one list in document order ("every problem at once"). What only a cluster can check (the contents
of a ConfigMap template, katib-config's trial resources and suggestion images, the schemas of
other trial kinds and of the TensorFlowEvent, Prometheus and Custom collectors) is left to Katib's
webhook.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from appliance import safe_yaml
from appliance.config.strict import Problems, describe
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
PARAMETER_TYPES = (INT, DOUBLE, CATEGORICAL, DISCRETE)
# Katib's consts.KubeflowJobKinds: the trial kinds whose success/failure conditions it defaults.
KUBEFLOW_JOB_KINDS = ("TFJob", "PyTorchJob", "XGBoostJob", "MXJob", "MPIJob")
KUBEFLOW_JOB_PRIMARY_POD_LABELS = {"training.kubeflow.org/job-role": "master"}
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
CONFIG_MAP_KEYS = ("configMapName", "configMapNamespace", "templatePath")
COLLECTOR_SPEC_KEYS = {"collector", "source"}
KATIB_FIX = "edit the file; see docs/tuning.md"


class Limits:
    """What a target refuses of what Katib accepts. This base refuses nothing: it is Katib itself,
    what a cluster runs. A target overrides the hooks it needs; each returns its problems
    (`path: message`) for one part of the document, already checked by Katib's rules."""

    fix = KATIB_FIX  # the advice printed under the problems

    def spec(self, spec: Mapping[str, Any]) -> list[str]:
        return []

    def algorithm(self, name: str, path: str) -> list[str]:
        return []

    def setting(self, algorithm: str, setting: Setting, where: str) -> list[str]:
        return []

    def distribution(self, distribution: str, where: str) -> list[str]:
        return []

    def template(self, trial_template: Mapping[str, Any], path: str) -> list[str]:
        """The defaulted spec.trialTemplate (inline trialSpec or configMap)."""
        return []

    def job(self, job_spec: Mapping[str, Any], where: str) -> list[str]:
        """A batch/v1 Job trial's spec."""
        return []

    def pod(self, pod: Mapping[str, Any], where: str) -> list[str]:
        return []

    def container(self, container: Mapping[str, Any], where: str, primary: str) -> list[str]:
        """Each container of a Job trial's pod, the primary one or not."""
        return []

    def collector(self, collector_kind: str, where: str) -> list[str]:
        return []

    def metrics_file(self, path: str, container: Mapping[str, Any], where: str) -> list[str]:
        """A File collector's path, with the primary container that should write it."""
        return []

    def notes(self, experiment: Experiment) -> list[str]:
        """What the target does differently with a valid Experiment (listed before Katib's notes)."""
        return []


KATIB = Limits()


@dataclasses.dataclass(frozen=True)
class Validation:
    """The verdict on one Experiment document: the Experiment, or every problem in document order."""

    source: str
    experiment: Experiment | None
    problems: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()  # the problems the target's limits added (a subset of problems)
    notes: tuple[str, ...] = ()
    fix: str = KATIB_FIX

    @property
    def ok(self) -> bool:
        return self.experiment is not None

    def result(self) -> Experiment:
        """The Experiment; InvalidDocument (exit 2) listing every problem when there is none."""
        if self.experiment is None:
            raise InvalidDocument(self.source, list(self.problems), self.fix)
        return self.experiment


class _Problems(Problems):
    """The shared collector, plus the target's limits and which problems they raised."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self.refused: list[str] = []

    def refuse(self, problems: list[str]) -> bool:
        self.items += problems
        self.refused += problems
        return bool(problems)

    def int32(self, value: Any, path: str) -> int | None:
        return self.integer(value, path, MAX_INT32, "an int32")


def read(path: str | Path) -> Any:
    """The one YAML document of an Experiment file (BadInput/InvalidDocument for the file itself)."""
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
    return documents[0]


def load(path: str | Path, limits: Limits = KATIB) -> Experiment:
    """Read and parse an Experiment file; every problem is reported at once (InvalidDocument)."""
    return parse(read(path), str(path), limits)


def parse(data: Any, source: str = "<experiment>", limits: Limits = KATIB) -> Experiment:
    """Validate and default a decoded Experiment the way Katib's webhooks do, then `limits`."""
    return validate(data, source, limits).result()


def validate(data: Any, source: str = "<experiment>", limits: Limits = KATIB) -> Validation:
    """Katib's defaulting and validation of a decoded Experiment, with `limits`' refusals in place."""
    p = _Problems(limits)
    if not isinstance(data, dict):
        p.add("document", f"expected a Katib Experiment mapping, got {describe(data)}")
        return _invalid(source, p)
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
        return _invalid(source, p)
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
    p.refuse(limits.spec(spec))
    parameters, parameters_ok = _parameters(spec, p)
    if parameters and spec.get("nasConfig") is not None:
        p.add("spec", "only one of spec.parameters and spec.nasConfig can be specified")
    trial = _trial_template(spec, parameters, p)
    collector = _collector(spec, trial, p)

    if algorithm is not None and parameters_ok:
        _settings(algorithm, p)
        p.items += algorithms.check_space(algorithm.name, parameters, max_trials)
    if max_trials is None and (objective is None or objective.goal is None):
        p.note("spec: no maxTrialCount and no objective.goal: the experiment runs until "
               "interrupted (as on Katib)")
    if p.items:
        return _invalid(source, p)
    assert objective is not None and algorithm is not None and trial is not None
    trial_spec, primary, trial_parameters = trial
    out_metadata = {**metadata, "name": name, "namespace": namespace}
    manifest = {"apiVersion": API_VERSION, "kind": KIND, "metadata": out_metadata, "spec": spec}
    experiment = Experiment(
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
    )
    notes = (*limits.notes(experiment), *p.notes)
    experiment = dataclasses.replace(experiment, notes=notes)
    return Validation(source, experiment, notes=notes, fix=limits.fix)


def _invalid(source: str, p: _Problems) -> Validation:
    return Validation(source, None, tuple(p.items), tuple(p.refused), tuple(p.notes), p.limits.fix)


def _counts(spec: dict[str, Any], p: _Problems) -> tuple[int, int | None, int | None]:
    parallel = p.int32(spec.get("parallelTrialCount"), "spec.parallelTrialCount")
    max_trials = p.int32(spec.get("maxTrialCount"), "spec.maxTrialCount")
    max_failed = p.int32(spec.get("maxFailedTrialCount"), "spec.maxFailedTrialCount")
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
    direction_type = p.string(raw.get("type"), "spec.objective.type", required=True)
    if direction_type and direction_type not in (MINIMIZE, MAXIMIZE):
        p.add("spec.objective.type", f"must be {MINIMIZE} or {MAXIMIZE}, got {direction_type!r}")
    metric = p.string(raw.get("objectiveMetricName"), "spec.objective.objectiveMetricName",
                      required=True)
    goal = raw.get("goal")
    if goal is not None and (isinstance(goal, bool) or not isinstance(goal, (int, float))):
        p.add("spec.objective.goal", f"must be a number, got {describe(goal)}")
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
    direction = {MINIMIZE: "min", MAXIMIZE: "max"}.get(direction_type, "latest")
    named = {s.name for s in strategies}
    if metric not in named:
        strategies.append(MetricStrategy(metric, direction))
    for extra in additional:
        if extra not in named:
            strategies.append(MetricStrategy(extra, direction))
    raw["metricStrategies"] = [{"name": s.name, "value": s.value} for s in strategies]
    return Objective(
        type=direction_type,
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
        if p.refuse(p.limits.algorithm(name, f"{path}.algorithmName")):
            return None
    return Algorithm(name, tuple(settings))


def _settings(algorithm: Algorithm, p: _Problems) -> None:
    """Each setting as the suggestion service behind the algorithm checks it (Katib asks it)."""
    for index, setting in enumerate(algorithm.settings):
        where = f"spec.algorithm.algorithmSettings[{index}]"
        p.refuse(p.limits.setting(algorithm.name, setting, where))
        problem, note = algorithms.check_setting(algorithm.name, setting.name, setting.value)
        if problem:
            p.add(where, problem)
        if note:
            p.note(f"{where}: {note}")


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
    p.refuse(p.limits.distribution(distribution, f"{where}.distribution"))
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
    """(trialSpec, primary container, trialParameters); the trialSpec is empty for a ConfigMap
    template, which only the cluster can read."""
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
            return None
        config_map = p.mapping(raw.get("configMap"), f"{path}.configMap") or {}
        given = [p.string(config_map.get(key), f"{path}.configMap.{key}") for key in CONFIG_MAP_KEYS]
        if not all(given):
            p.add(f"{path}.configMap", f"{', '.join(CONFIG_MAP_KEYS)} must be specified")
        if p.refuse(p.limits.template(raw, path)):
            return None
        # Katib reads the template from the ConfigMap before it checks the trialParameters
        # against it; here only what does not need the template is checked.
        return {}, primary, _trial_parameters(raw, None, parameters, p)
    if trial_spec is None:
        if raw.get("trialSpec") is None:
            p.add(path, "spec.trialTemplate.trialSpec or spec.trialTemplate.configMap must be "
                  "specified")
        return None
    trial_kind = trial_spec.get("kind")
    api_version = trial_spec.get("apiVersion")
    if not trial_kind or not api_version:
        p.add(f"{path}.trialSpec", "apiVersion and kind must be specified")
    meta = trial_spec.get("metadata") or {}
    if isinstance(meta, dict) and (meta.get("name") or meta.get("namespace")):
        p.add(f"{path}.trialSpec.metadata", "metadata.name and metadata.namespace must be omitted")
    _default_conditions(raw, trial_kind, path, p)
    p.refuse(p.limits.template(raw, path))
    trial_parameters = _trial_parameters(raw, trial_spec, parameters, p)
    if trial_kind == "Job" and api_version == "batch/v1" and primary:
        _job(trial_spec, trial_parameters, primary, p)
    return trial_spec, primary, trial_parameters


def _default_conditions(raw: dict[str, Any], trial_kind: Any, path: str, p: _Problems) -> None:
    """Katib's setDefaultTrialTemplate for Job and Kubeflow training jobs; other kinds need both."""
    if trial_kind == "Job":
        raw.setdefault("successCondition", template.JOB_SUCCESS_CONDITION)
        raw.setdefault("failureCondition", template.JOB_FAILURE_CONDITION)
    elif trial_kind in KUBEFLOW_JOB_KINDS:
        raw.setdefault("successCondition", template.KUBEFLOW_JOB_SUCCESS_CONDITION)
        raw.setdefault("failureCondition", template.KUBEFLOW_JOB_FAILURE_CONDITION)
        raw.setdefault("primaryPodLabels", dict(KUBEFLOW_JOB_PRIMARY_POD_LABELS))
    if not raw.get("successCondition") or not raw.get("failureCondition"):
        p.add(path, "successCondition and failureCondition must be specified")


def _trial_parameters(
    raw: dict[str, Any], trial_spec: dict[str, Any] | None, parameters: list[Parameter],
    p: _Problems,
) -> tuple[TrialParameter, ...]:
    """Katib's checks of spec.trialTemplate.trialParameters; those against the template's text
    only when the template is inline (`trial_spec`)."""
    path = "spec.trialTemplate.trialParameters"
    names = {parameter.name for parameter in parameters}
    text = template.template_text(trial_spec) if trial_spec is not None else None
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
        elif trial_spec is not None and meta is not None and meta[0] in ("Labels", "Annotations"):
            metadata = trial_spec.get("metadata") or {}
            bag = metadata.get("labels" if meta[0] == "Labels" else "annotations") or {}
            if meta[1] not in bag:
                p.add(f"{where}.reference", f"{reference}: the trialSpec has no "
                      f"{meta[0][:-1].lower()} {meta[1]!r}")
        if name and text is not None:
            marker = template.placeholder(name)
            if marker not in text:
                p.add(f"{where}.name", f"parameter name {name} in spec.trialParameters not found "
                      f"in spec.trialTemplate.trialSpec (expected {marker})")
            text = text.replace(marker, "test-value")
        result.append(TrialParameter(name, reference, description))
    for leftover in sorted(set(template.PLACEHOLDER.findall(text or ""))):
        p.add("spec.trialTemplate.trialSpec", f"{leftover} is not declared in "
              "spec.trialTemplate.trialParameters")
    if parameters and non_meta != len(parameters):
        p.add(path, f"{non_meta} trialParameters reference spec.parameters but there are "
              f"{len(parameters)} parameters; each parameter needs exactly one trialParameter")
    return tuple(result)


def _job(trial_spec: dict[str, Any], trial_parameters: tuple[TrialParameter, ...], primary: str,
         p: _Problems) -> None:
    """What Kubernetes and Katib check of a batch Job trial (Katib converts it to a batch Job)."""
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
        value = p.int32(job_spec.get(key), f"{base}.{key}")
        if value is None:
            continue
        if key == "backoffLimit" and value < 0:
            p.add(f"{base}.{key}", "must be >= 0")
        if key == "activeDeadlineSeconds" and value <= 0:
            p.add(f"{base}.{key}", "must be > 0")
    p.refuse(p.limits.job(job_spec, base))
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
    p.refuse(p.limits.pod(pod, where))
    found = False
    for i, container in enumerate(p.sequence(pod.get("containers"), f"{where}.containers")):
        c_where = f"{where}.containers[{i}]"
        if not isinstance(container, dict):
            p.add(c_where, "must be a mapping")
            continue
        _container(container, c_where, p)
        found = found or container.get("name") == primary
        p.refuse(p.limits.container(container, c_where, primary))
    if not found:
        p.add(f"{where}.containers", f"no container named {primary!r} "
              "(spec.trialTemplate.primaryContainerName)")


def _container(container: dict[str, Any], where: str, p: _Problems) -> None:
    for key in ("command", "args"):
        for j, item in enumerate(p.sequence(container.get(key), f"{where}.{key}")):
            if not isinstance(item, str):
                p.add(f"{where}.{key}[{j}]", f"must be a string, got {describe(item)}")
    for j, entry in enumerate(p.sequence(container.get("env"), f"{where}.env")):
        e_where = f"{where}.env[{j}]"
        item = p.mapping(entry, e_where)
        if item is None:
            continue
        p.string(item.get("name"), f"{e_where}.name", required=True)
        p.string(item.get("value"), f"{e_where}.value")
    p.string(container.get("workingDir"), f"{where}.workingDir")


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
    collector_kind = p.string(collector.get("kind"), f"{path}.collector.kind") or "StdOut"
    collector["kind"] = collector_kind
    if collector_kind not in COLLECTOR_KINDS:
        p.add(f"{path}.collector.kind", f"invalid metrics collector kind {collector_kind!r}")
        return Collector("StdOut")
    if p.refuse(p.limits.collector(collector_kind, f"{path}.collector.kind")):
        return Collector("StdOut")
    if collector_kind not in ("StdOut", "File"):
        return Collector(collector_kind)  # its source is checked by Katib's webhook
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
    if collector_kind == "StdOut":
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
    if trial is not None and trial[0] and file_path:
        trial_spec, primary, _ = trial
        container = template.primary_container(trial_spec, primary) or {}
        p.refuse(p.limits.metrics_file(file_path, container, f"{path}.source.fileSystemPath.path"))
    return Collector("File", file_path, str(file_format), tuple(filters))
