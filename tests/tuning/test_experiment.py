"""Katib's defaulting and validation of an Experiment, every problem reported with its field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.errors import BadInput, InvalidDocument
from appliance.targets.local.tuning import limits as experiments
from appliance.tuning.template import JOB_FAILURE_CONDITION, JOB_SUCCESS_CONDITION


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidDocument) as caught:
        experiments.parse(data, "exp.yaml")
    return caught.value.problems


def test_defaults_follow_katib_code_not_its_comments(kit: Any) -> None:
    data = kit.manifest(objective={"type": "minimize", "objectiveMetricName": "loss",
                                   "additionalMetricNames": ["accuracy", "f1"],
                                   "metricStrategies": [{"name": "f1", "value": "latest"}]},
                        args=["--print=loss=${trialParameters.x}"], maxTrialCount=5)
    del data["spec"]["parallelTrialCount"]
    exp = experiments.parse(data)
    spec = exp.manifest["spec"]
    assert exp.parallel_trial_count == 3 and spec["parallelTrialCount"] == 3
    assert spec["resumePolicy"] == "Never"  # the API comment says LongRunning
    # The objective and additional metrics without a strategy follow the objective's direction
    # (a code comment claims "latest"); user strategies come first, in their order.
    assert spec["objective"]["metricStrategies"] == [
        {"name": "f1", "value": "latest"},
        {"name": "loss", "value": "min"},
        {"name": "accuracy", "value": "min"},
    ]
    template = spec["trialTemplate"]
    assert (template["successCondition"], template["failureCondition"]) == (
        JOB_SUCCESS_CONDITION, JOB_FAILURE_CONDITION)
    assert spec["metricsCollectorSpec"] == {"collector": {"kind": "StdOut"}}
    assert spec["parameters"][0]["feasibleSpace"]["distribution"] == "uniform"
    assert exp.namespace == "default" and exp.manifest["metadata"]["namespace"] == "default"


def test_maximize_defaults_to_max(kit: Any) -> None:
    exp = experiments.parse(kit.manifest(objective={
        "type": "maximize", "objectiveMetricName": "accuracy", "additionalMetricNames": ["loss"]}))
    assert [(s.name, s.value) for s in exp.objective.strategies] == [
        ("accuracy", "max"), ("loss", "max")]


def test_the_default_parallel_count_must_fit_max_trials(kit: Any) -> None:
    data = kit.manifest(maxTrialCount=2)
    del data["spec"]["parallelTrialCount"]
    assert problems(data) == [
        "spec.parallelTrialCount: 3 (the default) should be less than or equal to "
        "spec.maxTrialCount (2)"
    ]


@pytest.mark.parametrize(("name", "ok"), [
    ("a", True), ("my-exp-1", True), ("a" * 40, True), ("a" * 41, False),
    ("My-exp", False), ("1abc", False), ("abc-", False), ("ab_c", False), ("-ab", False),
])
def test_experiment_name_rules(kit: Any, name: str, ok: bool) -> None:
    data = kit.manifest(name=name)
    if ok:
        assert experiments.parse(data).name == name
    else:
        assert [p.split(":")[0] for p in problems(data)] == ["metadata.name"]


def test_counts_are_validated_together(kit: Any) -> None:
    assert problems(kit.manifest(maxTrialCount=3, maxFailedTrialCount=4, parallelTrialCount=0)) == [
        "spec.parallelTrialCount: must be greater than 0",
        "spec.maxFailedTrialCount: 4 should be less than or equal to spec.maxTrialCount (3)",
    ]
    assert problems(kit.manifest(maxTrialCount=0, maxFailedTrialCount=-1)) == [
        "spec.maxFailedTrialCount: should not be less than 0",
        "spec.maxTrialCount: must be greater than 0",
    ]
    assert problems(kit.manifest(maxTrialCount="3")) == [
        "spec.maxTrialCount: must be an integer, got a string"]


def test_every_problem_is_reported_at_once_with_its_path(kit: Any) -> None:
    data = kit.manifest(args=["--print=${trialParameters.x}", "${trialParameters.ghost}"])
    data["spec"]["objective"] = {"type": "best", "additionalMetricNames": ["accuracy"]}
    data["spec"]["algorithm"]["algorithmName"] = "simulated-annealing"
    data["spec"]["resumePolicy"] = "Sometimes"
    data["spec"]["surprise"] = True
    data["spec"]["trialTemplate"]["trialParameters"].append({"name": "y", "reference": "nope"})
    found = problems(data)
    assert found == [
        "spec.surprise: unknown field (expected one of: algorithm, earlyStopping, maxFailedTrialCount, "
        "maxTrialCount, metricsCollectorSpec, nasConfig, objective, parallelTrialCount, parameters, "
        "resumePolicy, trialTemplate)",
        "spec.resumePolicy: invalid ResumePolicyType 'Sometimes' (use Never, LongRunning, FromVolume)",
        "spec.objective.type: must be minimize or maximize, got 'best'",
        "spec.objective.objectiveMetricName: is required",
        "spec.algorithm.algorithmName: unknown algorithm 'simulated-annealing' (katib-config lists "
        "random, tpe, grid, hyperband, bayesianoptimization, cmaes, sobol, multivariate-tpe, enas, "
        "darts, pbt)",
        "spec.trialTemplate.trialParameters[1].reference: parameter reference nope does not exist in "
        "spec.parameters (x)",
        "spec.trialTemplate.trialParameters[1].name: parameter name y in spec.trialParameters not "
        "found in spec.trialTemplate.trialSpec (expected ${trialParameters.y})",
        "spec.trialTemplate.trialSpec: ${trialParameters.ghost} is not declared in "
        "spec.trialTemplate.trialParameters",
        "spec.trialTemplate.trialParameters: 2 trialParameters reference spec.parameters but there "
        "are 1 parameters; each parameter needs exactly one trialParameter",
    ]


def test_additional_metrics_may_not_repeat_the_objective(kit: Any) -> None:
    data = kit.manifest(objective={"type": "maximize", "objectiveMetricName": "accuracy",
                                   "additionalMetricNames": ["loss", "accuracy"]})
    assert problems(data) == [
        "spec.objective.additionalMetricNames: should not contain spec.objective.objectiveMetricName"
    ]


@pytest.mark.parametrize("algorithm", ["bayesianoptimization", "hyperband", "pbt", "enas", "darts"])
def test_algorithms_the_local_target_cannot_run_are_refused(kit: Any, algorithm: str) -> None:
    (found,) = problems(kit.manifest(algorithm={"algorithmName": algorithm}))
    assert found.startswith(f"spec.algorithm.algorithmName: algorithm {algorithm!r} is not "
                            "supported on the local target (")


@pytest.mark.parametrize(("algorithm", "settings", "expected"), [
    ("random", [("random_state", "-1")],
     ["algorithmSettings[0]: random_state must be an integer >= 0 (got -1)"]),
    ("random", [("gamma", "0.5")], ["algorithmSettings[0]: unknown setting gamma for algorithm random"]),
    ("tpe", [("gamma", "1.5"), ("prior_weight", "0"), ("n_EI_candidates", "x"), ("n_startup_trials", "3")], [
        "algorithmSettings[0]: gamma must be a number in the range (0, 1) (got 1.5)",
        "algorithmSettings[1]: prior_weight must be a number > 0 (got 0)",
        "algorithmSettings[2]: failed to validate n_EI_candidates(x): must be an integer > 0",
        "algorithmSettings[3]: unknown setting n_startup_trials for algorithm tpe",
    ]),
    ("multivariate-tpe", [("n_startup_trials", "-2"), ("gamma", "0.2")], [
        "algorithmSettings[0]: n_startup_trials must be an integer >= 0 (got -2)",
        "algorithmSettings[1]: unknown setting gamma for algorithm multivariate-tpe",
    ]),
    ("cmaes", [("restart_strategy", "ipop"), ("restart_strategy", "sometimes"), ("sigma", "0")], [
        "algorithmSettings[0]: restart_strategy 'ipop' is not supported on the local target (Optuna's "
        "CmaEsSampler dropped restart strategies in 4.4); use 'none' or omit it",
        "algorithmSettings[1]: invalid restart_strategy: 'sometimes' (use ipop, bipop or none)",
        "algorithmSettings[2]: sigma must be a number > 0 (got 0)",
    ]),
    ("grid", [("random_state", "1"), ("n_startup_trials", "1")], [
        "algorithmSettings[1]: unknown setting n_startup_trials for algorithm grid"]),
])
def test_algorithm_settings_are_checked_like_the_katib_service(
    kit: Any, algorithm: str, settings: list[tuple[str, str]], expected: list[str]
) -> None:
    parameters = [
        {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1", "step": "0.5"}},
        {"name": "y", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}},
    ]
    data = kit.manifest(parameters=parameters, algorithm={
        "algorithmName": algorithm,
        "algorithmSettings": [{"name": n, "value": v} for n, v in settings],
    }, args=["--print=accuracy=${trialParameters.x}", "${trialParameters.y}"])
    assert problems(data) == [f"spec.algorithm.{line}" for line in expected]


def test_valid_settings_pass_and_ignored_ones_are_noted(kit: Any) -> None:
    parameters = [
        {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
        {"name": "y", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}},
    ]
    args = ["--print=accuracy=${trialParameters.x}", "${trialParameters.y}"]
    exp = experiments.parse(kit.manifest(parameters=parameters, args=args, algorithm={
        "algorithmName": "cmaes", "algorithmSettings": [
            {"name": "random_state", "value": "3"}, {"name": "sigma", "value": "0.2"},
            {"name": "restart_strategy", "value": "none"}, {"name": "popsize", "value": "8"}]}))
    assert exp.notes == ("spec.algorithm.algorithmSettings[3]: setting 'popsize' is ignored by "
                         "Katib's cmaes service",)


def test_cmaes_needs_two_numeric_parameters(kit: Any) -> None:
    data = kit.manifest(algorithm={"algorithmName": "cmaes"})
    assert problems(data) == [
        "spec.algorithm.algorithmName: cmaes only supports two or more dimensional continuous "
        "search space (found 1 int/double parameter)"
    ]


def test_grid_needs_steps_and_enough_points(kit: Any) -> None:
    grid = {"algorithmName": "grid"}
    assert problems(kit.manifest(algorithm=grid)) == [
        "spec.parameters[0].feasibleSpace.step: grid needs a step for double parameter 'x' (Katib: "
        "'For discrete search space, all parameters must include step')"
    ]
    stepped = [{"name": "x", "parameterType": "double",
                "feasibleSpace": {"min": "0.1", "max": "0.3", "step": "0.1"}}]
    assert problems(kit.manifest(algorithm=grid, parameters=stepped, maxTrialCount=4)) == [
        "spec.maxTrialCount: 4 > all possible search combinations: 3 (grid cannot run more trials "
        "than grid points)"
    ]
    assert experiments.parse(kit.manifest(algorithm=grid, parameters=stepped, maxTrialCount=3))


def test_each_parameter_type_and_its_feasible_space(kit: Any) -> None:
    parameters = [
        {"name": "i", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "9", "step": "2"}},
        {"name": "d", "parameterType": "double", "feasibleSpace": {"min": "0.001", "max": "0.1",
                                                                   "distribution": "logUniform"}},
        {"name": "c", "parameterType": "categorical", "feasibleSpace": {"list": ["sgd", "adam"]}},
        {"name": "k", "parameterType": "discrete", "feasibleSpace": {"list": ["8", "16"]}},
    ]
    args = ["--print=accuracy=${trialParameters.d}", "${trialParameters.i}", "${trialParameters.c}",
            "${trialParameters.k}"]
    exp = experiments.parse(kit.manifest(parameters=parameters, args=args))
    assert [(p.name, p.type, p.min, p.max, p.step, p.values, p.distribution) for p in exp.parameters] == [
        ("i", "int", "1", "9", "2", (), "uniform"),
        ("d", "double", "0.001", "0.1", "", (), "logUniform"),
        ("c", "categorical", "", "", "", ("sgd", "adam"), "uniform"),
        ("k", "discrete", "", "", "", ("8", "16"), "uniform"),
    ]


@pytest.mark.parametrize(("kind", "space", "expected"), [
    ("int", {"min": "1.5", "max": "3"}, ["min: '1.5' is not an integer"]),
    ("int", {"max": "3"}, ["min: is required for parameterType int"]),
    ("double", {"min": 0.1, "max": "1"}, ["min: must be a string, got a number (quote it: \"0.1\")"]),
    ("double", {"min": "2", "max": "1"}, [": min 2 is greater than max 1"]),
    ("double", {"min": "0", "max": "1", "step": "-0.1"}, ["step: must be greater than 0, got -0.1"]),
    ("double", {"min": "0", "max": "1", "list": ["1"]},
     ["list: feasibleSpace.list is not supported for parameterType double"]),
    ("double", {"min": "0", "max": "1", "distribution": "normal"}, [
        "distribution: distribution 'normal' is not supported on the local target (its Optuna samplers "
        "take uniform or logUniform)"]),
    ("double", {"min": "0", "max": "1", "distribution": "gaussian"}, [
        "distribution: unknown distribution 'gaussian' (use uniform, logUniform, normal, logNormal, "
        "unknown)"]),
    ("int", {"min": "-5", "max": "0", "distribution": "logUniform"}, [
        "max: logUniform needs max >= 1 (Optuna raises the low end to 1)"]),
    ("categorical", {"list": []}, ["list: a non-empty list is required for parameterType categorical"]),
    ("discrete", {"list": ["1"], "step": "1"}, [
        ": feasibleSpace .max, .min and .step are not supported for parameterType discrete"]),
    ("categorical", {"list": ['say "hi"']}, [
        "list[0]: 'say \"hi\"': Katib substitutes values as raw text into the template's JSON, so a "
        "value may not contain \" or \\"]),
    ("categorical", {"list": [1, "2"]}, ["list[0]: must be a string, got a number (quote it: \"1\")"]),
])
def test_feasible_space_problems(kit: Any, kind: str, space: dict[str, Any], expected: list[str]) -> None:
    data = kit.manifest(parameters=[{"name": "x", "parameterType": kind, "feasibleSpace": space}])
    base = "spec.parameters[0].feasibleSpace"
    assert problems(data) == [f"{base}{line if line.startswith(':') else '.' + line}" for line in expected]


def test_unknown_parameter_type_and_missing_space(kit: Any) -> None:
    data = kit.manifest(parameters=[
        {"name": "x", "parameterType": "float", "feasibleSpace": {"min": "0", "max": "1"}},
        {"name": "y", "parameterType": "int", "feasibleSpace": {}},
        {"name": "y", "parameterType": "int"},
    ], args=["--print=accuracy=${trialParameters.x}", "${trialParameters.y}"])
    data["spec"]["trialTemplate"]["trialParameters"] = [
        {"name": "x", "reference": "x"}, {"name": "y", "reference": "y"}]
    assert problems(data)[:4] == [
        "spec.parameters[0].parameterType: parameterType 'float' is not supported (use int, double, "
        "categorical, discrete)",
        "spec.parameters[1].feasibleSpace: feasibleSpace must be specified",
        "spec.parameters[2].name: duplicate parameter name 'y'",
        "spec.parameters[2].feasibleSpace: is required",
    ]


def test_trial_parameters_are_unique_and_brace_free(kit: Any) -> None:
    data = kit.manifest()
    data["spec"]["trialTemplate"]["trialParameters"] = [
        {"name": "x", "reference": "x"}, {"name": "x", "reference": "x"}, {"name": "a{b}", "reference": "x"}]
    assert problems(data) == [
        "spec.trialTemplate.trialParameters[1].name: parameter name x can't be duplicated",
        "spec.trialTemplate.trialParameters[1].reference: parameter reference x can't be duplicated",
        "spec.trialTemplate.trialParameters[1].name: parameter name x in spec.trialParameters not "
        "found in spec.trialTemplate.trialSpec (expected ${trialParameters.x})",
        "spec.trialTemplate.trialParameters[2].name: 'a{b}' may not contain '{' or '}'",
        "spec.trialTemplate.trialParameters: 2 trialParameters reference spec.parameters but there "
        "are 1 parameters; each parameter needs exactly one trialParameter",
    ]


def test_meta_references_are_accepted_and_checked(kit: Any) -> None:
    data = kit.manifest(args=["--print=accuracy=${trialParameters.x}", "--out=${trialParameters.me}",
                              "${trialParameters.team}"])
    data["spec"]["trialTemplate"]["trialParameters"] += [
        {"name": "me", "reference": "${trialSpec.Name}"},
        {"name": "team", "reference": "${trialSpec.Labels[team]}"},
    ]
    assert problems(data) == [
        "spec.trialTemplate.trialParameters[2].reference: ${trialSpec.Labels[team]}: the trialSpec has "
        "no label 'team'"]
    data["spec"]["trialTemplate"]["trialSpec"]["metadata"] = {"labels": {"team": "ml"}}
    exp = experiments.parse(data)
    assert [t.reference for t in exp.trial_parameters] == ["x", "${trialSpec.Name}",
                                                            "${trialSpec.Labels[team]}"]


def test_what_the_local_target_cannot_run_is_refused_with_the_reason(kit: Any) -> None:
    data = kit.manifest(container={"env": [{"name": "A", "valueFrom": {"secretKeyRef": {}}}],
                                   "volumeMounts": [{"name": "v", "mountPath": "/data"}]},
                        job={"completions": 2})
    pod = data["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    pod["containers"].append({"name": "sidecar", "command": ["sleep", "1"]})
    pod["volumes"] = [{"name": "v", "emptyDir": {}}]
    del pod["restartPolicy"]
    data["spec"]["trialTemplate"]["successCondition"] = "status.succeeded"
    base = "spec.trialTemplate.trialSpec.spec"
    assert problems(data) == [
        "spec.trialTemplate.successCondition: custom conditions are not supported on the local "
        f"target (the Job default is {JOB_SUCCESS_CONDITION})",
        f"{base}.completions: only one pod per trial runs on the local target (use 1)",
        f"{base}.template.spec.restartPolicy: is required for a Job (Never or OnFailure)",
        f"{base}.template.spec.volumes: not supported on the local target (a trial is one local "
        "process on this machine's filesystem)",
        f"{base}.template.spec.containers[0].env[0].valueFrom: not supported on the local target (no "
        "Secrets, ConfigMaps or downward API); give a literal value",
        f"{base}.template.spec.containers[0].volumeMounts: not supported on the local target",
        f"{base}.template.spec.containers[1]: container 'sidecar': only the primary container "
        "('training') runs on the local target",
    ]


def test_only_batch_jobs_and_inline_templates_run_locally(kit: Any) -> None:
    data = kit.manifest()
    data["spec"]["trialTemplate"]["trialSpec"]["kind"] = "PyTorchJob"
    data["spec"]["trialTemplate"]["trialSpec"]["apiVersion"] = "kubeflow.org/v1"
    assert problems(data) == [
        "spec.trialTemplate.trialSpec: kubeflow.org/v1 PyTorchJob trials are not supported on the "
        "local target; only batch/v1 Job trials run as local processes"]
    data = kit.manifest()
    del data["spec"]["trialTemplate"]["trialSpec"]
    data["spec"]["trialTemplate"]["configMap"] = {"configMapName": "t", "configMapNamespace": "k",
                                                  "templatePath": "job.yaml"}
    assert problems(data) == [
        "spec.trialTemplate.configMap: a trial template in a ConfigMap is not supported on the local "
        "target (there is no cluster to read it from); inline it as trialSpec"]
    data = kit.manifest()
    data["spec"]["trialTemplate"]["trialSpec"]["metadata"] = {"name": "fixed"}
    assert problems(data) == ["spec.trialTemplate.trialSpec.metadata: metadata.name and "
                              "metadata.namespace must be omitted"]
    data = kit.manifest(command=[])
    assert problems(data) == [
        "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].command: is required on the "
        "local target (there is no image entrypoint to fall back to)"]


@pytest.mark.parametrize(("kind", "message"), [
    ("TensorFlowEvent",
     "metrics collector TensorFlowEvent is not supported on the local target (use StdOut or File)"),
    ("Push", "metrics collector Push is not supported on the local target (use StdOut or File)"),
    ("Prometheus", "invalid metrics collector kind 'Prometheus'"),
])
def test_collectors_the_local_target_cannot_run(kit: Any, kind: str, message: str) -> None:
    data = kit.manifest(metricsCollectorSpec={"collector": {"kind": kind}})
    assert problems(data) == [f"spec.metricsCollectorSpec.collector.kind: {message}"]


def test_file_collector_defaults_and_rules(kit: Any) -> None:
    path = "/var/log/katib/metrics.log"
    data = kit.manifest(args=[f"--file={path}", "--file-line=accuracy=${trialParameters.x}"],
                        metricsCollectorSpec={"collector": {"kind": "File"}})
    exp = experiments.parse(data)
    assert exp.manifest["spec"]["metricsCollectorSpec"]["source"] == {
        "fileSystemPath": {"kind": "File", "path": path, "format": "TEXT"}}
    assert (exp.collector.kind, exp.collector.path, exp.collector.format) == ("File", path, "TEXT")

    source = {"fileSystemPath": {"path": "relative.json", "kind": "File", "format": "JSON"},
              "filter": {"metricsFormat": ["(a)=(b)"]}}
    data = kit.manifest(metricsCollectorSpec={"collector": {"kind": "File"}, "source": source})
    base = "spec.metricsCollectorSpec.source"
    assert problems(data) == [
        f"{base}.fileSystemPath.path: file path where metrics file exists is required: an absolute "
        "path with kind File",
        f"{base}.filter: must be nil when format of metrics file is JSON",
        f"{base}.fileSystemPath.path: relative.json does not appear in the primary container's "
        "command, args or env; on the local target trials share one filesystem, so the engine gives "
        "each trial its own copy of this path and must pass it to the trainer",
    ]


def test_filters_need_two_groups_and_must_compile(kit: Any) -> None:
    source = {"filter": {"metricsFormat": ["([a-z]+)=([0-9.]+)", "acc=(\\d+)", "(unclosed"]}}
    data = kit.manifest(metricsCollectorSpec={"source": source})
    found = problems(data)
    assert found[0] == ("spec.metricsCollectorSpec.source.filter.metricsFormat[1]: invalid 'acc=(\\\\d+)': "
                        "two top subexpressions are required")
    assert found[1].startswith(
        "spec.metricsCollectorSpec.source.filter.metricsFormat[2]: invalid '(unclosed': ")
    assert len(found) == 2


def test_notes_for_unbounded_experiments_and_images(kit: Any) -> None:
    data = kit.manifest(container={"image": "trainer:1"})
    del data["spec"]["maxTrialCount"]
    exp = experiments.parse(data)
    assert exp.notes == (
        "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].image: trainer:1 is not "
        "pulled; the command runs on this machine, with the appliance's Python first on PATH",
        "spec: no maxTrialCount and no objective.goal: the experiment runs until interrupted (as on "
        "Katib)",
    )


def test_documents_and_files(tmp_path: Path, kit: Any) -> None:
    with pytest.raises(InvalidDocument) as caught:
        experiments.parse([1, 2], "x.yaml")
    assert caught.value.problems == ["document: expected a Katib Experiment mapping, got a list"]
    data = kit.manifest()
    data["apiVersion"], data["kind"] = "kubeflow.org/v1alpha3", "Trial"
    assert problems(data) == ["apiVersion: expected 'kubeflow.org/v1beta1', got 'kubeflow.org/v1alpha3'",
                              "kind: expected 'Experiment', got 'Trial'"]
    with pytest.raises(BadInput, match="no such file"):
        experiments.load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    with pytest.raises(BadInput, match="is not valid YAML"):
        experiments.load(broken)
    two = tmp_path / "two.yaml"
    two.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(InvalidDocument) as caught:
        experiments.load(two)
    assert caught.value.problems == ["document: expected one Experiment, found 2 documents"]


def test_grid_too_large_is_refused_before_listing_it(kit: Any) -> None:
    grid = {"algorithmName": "grid"}
    tiny = [{"name": "x", "parameterType": "double",
             "feasibleSpace": {"min": "0.1", "max": "0.3", "step": "1e-300"}}]
    assert problems(kit.manifest(algorithm=grid, parameters=tiny)) == [
        "spec.parameters[0].feasibleSpace.step: the grid would have more than 1000000 points; "
        "use a larger step or a narrower range"
    ]
    # Two axes of 1001 points each: fine alone, too many together; the second axis is named.
    wide = [{"name": n, "parameterType": "int",
             "feasibleSpace": {"min": "0", "max": "1000", "step": "1"}} for n in ("x", "y")]
    assert problems(kit.manifest(algorithm=grid, parameters=wide,
                                 args=["${trialParameters.x}", "${trialParameters.y}"])) == [
        "spec.parameters[1].feasibleSpace.step: the grid would have more than 1000000 points; "
        "use a larger step or a narrower range"
    ]


def test_non_finite_goal_and_bounds_are_refused(kit: Any) -> None:
    data = kit.manifest(objective={"type": "maximize", "objectiveMetricName": "accuracy",
                                   "goal": float("nan")})
    assert problems(data) == ["spec.objective.goal: must be a finite number, got nan"]
    inf = [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "inf"}}]
    assert problems(kit.manifest(parameters=inf)) == [
        "spec.parameters[0].feasibleSpace.max: 'inf' is not a finite number"]
