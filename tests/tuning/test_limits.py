"""Katib's validation (what a cluster gets) against the local target's admission (what it refuses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.errors import InvalidDocument
from appliance.targets.local.tuning import limits
from appliance.targets.local.tuning.engine import LocalTuningEngine
from appliance.tuning import experiment as experiments
from appliance.tuning.template import KUBEFLOW_JOB_FAILURE_CONDITION, KUBEFLOW_JOB_SUCCESS_CONDITION

POD = "spec.trialTemplate.trialSpec.spec.template.spec"


def config_map_template(kit: Any) -> dict[str, Any]:
    data = kit.manifest()
    del data["spec"]["trialTemplate"]["trialSpec"]
    data["spec"]["trialTemplate"]["configMap"] = {
        "configMapName": "trial-templates", "configMapNamespace": "kubeflow",
        "templatePath": "defaultTrialTemplate.yaml"}
    return data


def tfjob_trial(kit: Any) -> dict[str, Any]:
    data = kit.manifest()
    replica = {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": {"containers": [
        {"name": "tensorflow", "image": "docker.io/kubeflowkatib/tf-mnist-with-summaries:latest",
         "command": ["python", "/opt/tf-mnist-with-summaries/mnist.py",
                     "--learning-rate=${trialParameters.x}"]}]}}}
    data["spec"]["trialTemplate"]["primaryContainerName"] = "tensorflow"
    data["spec"]["trialTemplate"]["trialSpec"] = {
        "apiVersion": "kubeflow.org/v1", "kind": "TFJob",
        "spec": {"tfReplicaSpecs": {"Worker": replica}}}
    return data


def value_from_env(kit: Any) -> dict[str, Any]:
    return kit.manifest(container={"env": [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}}}]})


def bayesian(kit: Any) -> dict[str, Any]:
    return kit.manifest(algorithm={"algorithmName": "bayesianoptimization", "algorithmSettings": [
        {"name": "random_state", "value": "10"}]})


CASES = {
    "configMap": (config_map_template, [
        "spec.trialTemplate.configMap: a trial template in a ConfigMap is not supported on the local "
        "target (there is no cluster to read it from); inline it as trialSpec"]),
    "TFJob": (tfjob_trial, [
        "spec.trialTemplate.trialSpec: kubeflow.org/v1 TFJob trials are not supported on the local "
        "target; only batch/v1 Job trials run as local processes"]),
    "valueFrom": (value_from_env, [
        f"{POD}.containers[0].env[0].valueFrom: not supported on the local target (no Secrets, "
        "ConfigMaps or downward API); give a literal value"]),
    "bayesianoptimization": (bayesian, [
        "spec.algorithm.algorithmName: algorithm 'bayesianoptimization' is not supported on the "
        "local target (it needs scikit-optimize's GP optimizer, which the local engine does not "
        "ship); use one of random, tpe, grid, multivariate-tpe, cmaes, sobol, or run it on a "
        "cluster with Katib"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_katib_accepts_what_the_local_target_refuses(kit: Any, case: str) -> None:
    build, refusals = CASES[case]
    cluster = experiments.validate(build(kit), "exp.yaml")
    assert (cluster.problems, cluster.refused) == ((), ())
    assert cluster.experiment is not None
    assert limits.admit(build(kit), "exp.yaml") == refusals
    with pytest.raises(InvalidDocument) as caught:
        limits.parse(build(kit), "exp.yaml")
    assert caught.value.problems == refusals
    assert caught.value.fix == "edit the file; see docs/tuning.md for what the local target runs"


def test_katib_defaults_what_it_accepts(kit: Any) -> None:
    exp = experiments.parse(tfjob_trial(kit))
    trial_template = exp.manifest["spec"]["trialTemplate"]
    assert (trial_template["successCondition"], trial_template["failureCondition"]) == (
        KUBEFLOW_JOB_SUCCESS_CONDITION, KUBEFLOW_JOB_FAILURE_CONDITION)
    assert trial_template["primaryPodLabels"] == {"training.kubeflow.org/job-role": "master"}
    # A ConfigMap template: the cluster reads it, so only what does not need it is known here.
    exp = experiments.parse(config_map_template(kit))
    assert exp.trial_spec == {} and [p.name for p in exp.trial_parameters] == ["x"]
    bad = config_map_template(kit)
    del bad["spec"]["trialTemplate"]["configMap"]["templatePath"]
    assert experiments.validate(bad).problems == (
        "spec.trialTemplate.configMap: configMapName, configMapNamespace, templatePath must be "
        "specified",)
    # A kind Katib has no defaults for needs both conditions.
    custom = tfjob_trial(kit)
    custom["spec"]["trialTemplate"]["trialSpec"].update(apiVersion="argoproj.io/v1alpha1", kind="Workflow")
    assert experiments.validate(custom).problems == (
        "spec.trialTemplate: successCondition and failureCondition must be specified",)


def test_katib_takes_the_restart_strategies_goptuna_takes(kit: Any) -> None:
    parameters = [{"name": n, "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
                  for n in ("x", "y")]
    data = kit.manifest(parameters=parameters, args=["${trialParameters.x}", "${trialParameters.y}"],
                        algorithm={"algorithmName": "cmaes", "algorithmSettings": [
                            {"name": "restart_strategy", "value": "ipop"}]})
    assert experiments.validate(data).ok
    assert limits.admit(data) == [
        "spec.algorithm.algorithmSettings[0]: restart_strategy 'ipop' is not supported on the local "
        "target (Optuna's CmaEsSampler dropped restart strategies in 4.4); use 'none' or omit it"]


def test_one_list_in_document_order_with_the_refusals_marked(kit: Any) -> None:
    data = bayesian(kit)
    data["spec"]["maxTrialCount"] = 0
    pod = data["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    pod["containers"][0]["env"] = [{"name": "A", "valueFrom": {"fieldRef": {}}}, {"value": "x"}]
    data["spec"]["metricsCollectorSpec"] = {"collector": {"kind": "Push"}}
    validation = limits.validate(data, "exp.yaml")
    katib = ["spec.maxTrialCount: must be greater than 0",
             f"{POD}.containers[0].env[1].name: is required"]
    local = [CASES["bayesianoptimization"][1][0],
             f"{POD}.containers[0].env[0].valueFrom: not supported on the local target (no Secrets, "
             "ConfigMaps or downward API); give a literal value",
             "spec.metricsCollectorSpec.collector.kind: metrics collector Push is not supported on "
             "the local target (use StdOut or File)"]
    assert validation.problems == (katib[0], local[0], katib[1], local[1], local[2])
    assert validation.refused == tuple(local)
    assert experiments.validate(data, "exp.yaml").problems == tuple(katib)


def test_the_local_engine_admits_an_experiment_validated_for_a_cluster(
    kit: Any, tmp_path: Path
) -> None:
    exp = experiments.parse(tfjob_trial(kit))  # valid for Katib
    engine = LocalTuningEngine(tmp_path / "work")
    with pytest.raises(InvalidDocument) as caught:
        engine.run(exp)
    assert caught.value.source == "experiment exp"
    assert caught.value.problems == CASES["TFJob"][1]
    assert not (tmp_path / "work").exists()  # refused before anything is written or started
