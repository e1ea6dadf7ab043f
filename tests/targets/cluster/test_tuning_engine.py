"""The cluster tuning engine against FakeCluster with a fake Katib: admission (Katib's validation,
the cluster's refusals), what is applied, the status progression it reports, retries and timeouts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fake_cluster import FakeCluster
from fake_controllers import WORKLOADS, install_katib, install_workloads

from appliance.errors import BadInput, InvalidDocument, MissingPrerequisite
from appliance.targets.cluster.client import ApiError, ObjRef
from appliance.targets.cluster.readiness import NotReady
from appliance.targets.cluster.tuning import ClusterTuningEngine, enabled_algorithms, prepare
from appliance.targets.local.tuning import limits
from appliance.tuning.result import Progress
from conformance.experiments import manifest

IMAGE = "appliance-stubs:test"
EXPERIMENT = "kubeflow.org/v1beta1"


def cluster(**katib: Any) -> FakeCluster:
    fake = FakeCluster()
    install_workloads(fake)
    install_katib(fake, **katib)
    return fake


def engine(fake: FakeCluster, **knobs: Any) -> ClusterTuningEngine:
    return ClusterTuningEngine(fake, fake.clock, stubs_image=IMAGE, **knobs)


def applied(fake: FakeCluster, since: int = 0) -> list[ObjRef]:
    return [args[0] for call, args in fake.calls[since:] if call == "apply"]


def counts(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k.startswith("trial") or k.endswith("TrialList")}


def snapshot(p: Progress) -> tuple[Any, ...]:
    return (p.condition, p.trials, p.done, p.running, p.succeeded, p.failed, p.best_value)


def test_the_grid_experiment_reaches_the_stub_trainers_optimum_exactly() -> None:
    fake = cluster()
    start, seen = fake.now, []
    result = engine(fake).run(manifest("grid"), progress=seen.append)

    status = result.document["status"]
    assert (result.condition["type"], result.condition["reason"]) == ("Succeeded", "ExperimentGoalReached")
    best = status["currentOptimalTrial"]
    assert best["parameterAssignments"] == [{"name": "lr", "value": "0.01"}, {"name": "depth", "value": "6"}]
    # stubs/train.py: accuracy rises to 0.95 at (0.01, 6) over 5 epochs; the loss falls to 0.05.
    assert best["observation"]["metrics"] == [
        {"name": "accuracy", "min": "0.732258", "max": "0.950000", "latest": "0.950000"},
        {"name": "loss", "min": "0.050000", "max": "0.267742", "latest": "0.050000"},
    ]
    assert counts(status)["trials"] == counts(status)["trialsSucceeded"] == 6
    # Polled every 5 s; the trials run 10 s, three at a time, after Created -> Running.
    assert [snapshot(p) for p in seen] == [
        ("Pending", 0, 0, 0, 0, 0, ""),
        ("Running", 3, 0, 3, 0, 0, ""),
        ("Running", 6, 3, 3, 3, 0, "0.850460"),
        ("Succeeded", 6, 6, 0, 6, 0, "0.950000"),
    ]
    assert fake.now - start == 25.0 and set(fake.clock.slept[-5:]) == {5.0}
    # Katib-shaped: the Experiment as the cluster has it (no managedFields), its Trials by name.
    assert "managedFields" not in result.document["metadata"]
    assert result.document["metadata"]["namespace"] == WORKLOADS
    names = [t["metadata"]["name"] for t in result.trials]
    assert names == sorted(names) and len(names) == 6 and best["bestTrialName"] in names
    assert all(t["status"]["conditions"][-1]["type"] == "Succeeded" for t in result.trials)


def test_the_applied_experiment_runs_the_stub_trainer_on_the_stubs_image() -> None:
    fake = cluster()
    since = len(fake.calls)
    result = engine(fake).run(manifest("random", experiment_name="stub-random-cluster"))
    assert applied(fake, since) == [ObjRef(EXPERIMENT, "Experiment", "stub-random-cluster", WORKLOADS)]
    stored = fake.stored(EXPERIMENT, "Experiment", "stub-random-cluster", WORKLOADS)
    [container] = stored["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
        "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["env"] == [
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "appliance-s3-tuning",
                                                                     "key": "AWS_ACCESS_KEY_ID"}}},
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "appliance-s3-tuning",
                                                                         "key": "AWS_SECRET_ACCESS_KEY"}}},
        {"name": "AWS_ENDPOINT_URL", "value": "http://minio.object-store.svc.cluster.local:9000"},
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
    ]
    assert result.experiment.notes[0] == (
        "container training-container: image appliance-stubs:dev -> appliance-stubs:test (it runs the "
        "stub trainer)")
    assert result.succeeded and result.best["parameterAssignments"]


def test_a_failing_experiment_ends_failed_at_its_budget() -> None:
    fake = cluster()
    result = engine(fake).run(manifest("failing"))
    assert (result.condition["type"], result.condition["reason"], result.condition["message"]) == (
        "Failed", "ExperimentFailed", "Experiment has failed because max failed count has reached")
    assert counts(result.document["status"])["trialsFailed"] == 2
    assert result.best == {"observation": {}}
    assert {t["status"]["conditions"][-1]["reason"] for t in result.trials} == {
        "TrialFailed. Job reason: BackoffLimitExceeded"}


def test_creation_is_retried_while_katibs_webhook_does_not_serve() -> None:
    fake = cluster(ready=False)
    since, start = len(fake.calls), fake.now
    refused = fake._webhook_refusal({"apiVersion": EXPERIMENT, "kind": "Experiment",
                                     "metadata": {"namespace": WORKLOADS}}, "experiments", "CREATE")
    assert refused is not None and "failed calling webhook" in refused
    result = engine(fake).run(manifest("failing"))
    # Refused twice (no endpoints yet, then no CA), created on the third try 10 s later.
    assert applied(fake, since) == [ObjRef(EXPERIMENT, "Experiment", "stub-failing", WORKLOADS)] * 3
    assert result.condition["reason"] == "ExperimentFailed" and fake.now - start == 25.0


def test_an_algorithm_katib_config_does_not_enable_is_bad_input_naming_the_enabled_ones() -> None:
    fake = cluster(algorithms=("random", "grid"))
    since = len(fake.calls)
    with pytest.raises(BadInput) as caught:
        engine(fake).run(manifest("tpe"))
    assert caught.value.render() == (
        "experiment stub-tpe: spec.algorithm.algorithmName: 'tpe' is not enabled in this cluster's Katib: "
        "katib-config (ConfigMap katib/katib-config) enables random, grid "
        "(fix: use one of those, or add a suggestion for it to katib-config)")
    assert applied(fake, since) == []


def test_early_stopping_is_refused_before_the_cluster_is_asked() -> None:
    fake = cluster()
    since = len(fake.calls)
    with pytest.raises(BadInput) as caught:
        engine(fake).run(manifest("medianstop"))
    assert caught.value.what == (
        "experiment stub-medianstop: spec.earlyStopping (medianstop) cannot run on this cluster")
    assert caught.value.why == (
        "Katib v0.19.0 gives the early-stopping container no securityContext, and the workload namespace "
        "enforces Pod Security restricted, so the experiment's suggestion pod would be refused "
        "(FailedCreate) and no trial would ever run (docs/profiles.md, kubeflow/katib#2613)")
    assert caught.value.fix == "remove spec.earlyStopping, or run the experiment on the local target"
    assert fake.calls[since:] == []


def test_katibs_own_validation_runs_first_and_every_problem_is_listed() -> None:
    fake = cluster()
    broken = manifest("grid")
    broken["spec"]["parallelTrialCount"] = 0
    broken["spec"]["objective"]["type"] = "best"
    since = len(fake.calls)
    with pytest.raises(InvalidDocument) as caught:
        engine(fake).run(broken)
    assert caught.value.problems[:2] == [
        "spec.parallelTrialCount: must be greater than 0",
        "spec.objective.type: must be minimize or maximize, got 'best'",
    ]
    assert fake.calls[since:] == []


def test_the_local_targets_refusals_do_not_apply_on_a_cluster() -> None:
    fake = cluster(algorithms=("random", "bayesianoptimization"))
    spec = manifest("random")
    spec["spec"]["algorithm"] = {"algorithmName": "bayesianoptimization"}
    assert limits.validate(copy.deepcopy(spec), "local").refused == (
        "spec.algorithm.algorithmName: " + limits.not_local_message("bayesianoptimization"),)
    admitted = engine(fake).admit(spec)
    assert admitted.algorithm.name == "bayesianoptimization" and admitted.namespace == WORKLOADS


def test_a_cluster_without_katib_is_a_missing_prerequisite() -> None:
    fake = FakeCluster()
    install_workloads(fake)
    with pytest.raises(MissingPrerequisite) as caught:
        engine(fake).run(manifest("grid"))
    assert caught.value.render() == (
        "Katib is not installed on this cluster: ConfigMap katib/katib-config not found "
        "(fix: start a stack whose profile includes tuning (e.g. --profile standard))")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8))


def test_a_katib_config_that_is_an_alias_bomb_is_refused_not_expanded() -> None:
    fake = cluster()
    fake.apply([{"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "katib-config", "namespace": "katib"},
                 "data": {"katib-config.yaml": BOMB}}])
    with pytest.raises(MissingPrerequisite) as caught:
        engine(fake).run(manifest("grid"))
    assert caught.value.what == "ConfigMap katib/katib-config cannot be read"
    assert caught.value.why == ("katib-config.yaml is refused: YAML aliases expand this document by "
                                "1234567880 nodes, more than the 10000 allowed")


def test_a_refusal_by_katibs_webhook_is_bad_input_quoting_katib() -> None:
    fake = cluster()
    message = ('admission webhook "validator.experiment.katib.kubeflow.org" denied the request: '
               'spec.trialTemplate: Invalid value: "trialTemplate": unable to get trial template')
    fake.fail_next(ApiError(400, "BadRequest", message), ref=lambda r: r.kind == "Experiment")
    with pytest.raises(BadInput) as caught:
        engine(fake).run(manifest("grid"))
    assert (caught.value.what, caught.value.why) == ("Katib refused experiment stub-grid", message)


def test_a_trial_refused_by_pod_security_times_out_with_the_admission_message() -> None:
    fake = cluster()
    spec = manifest("grid")
    [container] = spec["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    container.update(image="python:3.11", command=["python", "train.py"])  # not the stub trainer: as written
    with pytest.raises(NotReady) as caught:
        engine(fake, timeout=60).run(spec)
    text = caught.value.render()
    assert caught.value.what == (
        "experiment stub-grid did not finish in 60s; it was deleted with its trials "
        "(a larger --timeout gives it longer)")
    [diagnosis] = caught.value.diagnoses
    assert diagnosis.status == "experiment stub-grid: Running, 0 of 3 trials done, 3 running"
    assert diagnosis.conditions == ("Created=True (ExperimentCreated): Experiment is created",
                                    "Running=True (ExperimentRunning): Experiment is running")
    assert [line.split(":")[1] for line in diagnosis.pods] == [" Running (TrialRunning"] * 3
    trials = [line.split()[1].rstrip(":") for line in diagnosis.pods]
    assert set(diagnosis.events) == set(
        f'FailedCreate Job/{trial}: Error creating: pods "{trial}-pod" is forbidden: violates PodSecurity '
        '"restricted:v1.32": allowPrivilegeEscalation != false (container "training-container" must set '
        'securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container '
        '"training-container" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container '
        '"training-container" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost"), unrestricted capabilities (container "training-container" must set '
        'securityContext.capabilities.drop=["ALL"])' for trial in trials)
    assert len(diagnosis.events) == 3
    assert text.splitlines()[1] == ("✗ Experiment appliance-workloads/stub-grid: experiment stub-grid: "
                                    "Running, 0 of 3 trials done, 3 running")
    # Nothing left running: the Experiment is gone, and its Trials with it.
    assert fake.get(ObjRef(EXPERIMENT, "Experiment", "stub-grid", WORKLOADS)) is None
    assert fake.list(EXPERIMENT, "Trial", WORKLOADS) == []


def test_a_timeout_passed_to_run_overrides_the_engines_default() -> None:
    fake = cluster()
    spec = manifest("grid")
    [container] = spec["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    container.update(image="python:3.11", command=["python", "train.py"])  # never admitted: never ends
    with pytest.raises(NotReady) as caught:
        engine(fake, timeout=600).run(spec, timeout=30)
    assert caught.value.what.startswith("experiment stub-grid did not finish in 30s;")


def test_a_rerun_replaces_the_experiment_of_the_same_name() -> None:
    fake = cluster()
    first = engine(fake).run(manifest("failing"))
    since = len(fake.calls)
    second = engine(fake).run(manifest("failing"))
    assert [c for c in fake.calls[since:] if c[0] == "delete"] == [
        ("delete", (ObjRef(EXPERIMENT, "Experiment", "stub-failing", WORKLOADS), "Foreground"))]
    assert first.document["metadata"]["uid"] != second.document["metadata"]["uid"]
    assert [t["metadata"]["name"] for t in second.trials] == [t["metadata"]["name"] for t in first.trials]
    assert len(fake.list(EXPERIMENT, "Trial", WORKLOADS)) == 2


def test_ctrl_c_deletes_the_experiment_as_the_local_engine_stops_its_trials() -> None:
    fake = cluster()

    def interrupt(p: Progress) -> None:
        if p.condition == "Running":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine(fake).run(manifest("grid"), progress=interrupt)
    assert fake.get(ObjRef(EXPERIMENT, "Experiment", "stub-grid", WORKLOADS)) is None
    assert fake.list(EXPERIMENT, "Trial", WORKLOADS) == []


def test_only_containers_that_run_the_stub_trainer_are_rewritten() -> None:
    document = manifest("grid")
    pod = document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    pod["containers"][0].update(command=["sh", "-c"], args=["python -m stubs.train --lr=1 --depth=2"],
                                env=[{"name": "AWS_ENDPOINT_URL", "value": "http://elsewhere:9000"}])
    pod["containers"].append({"name": "helper", "image": "busybox:1.36", "command": ["sleep", "1"]})
    out, notes = prepare(document, WORKLOADS, IMAGE)
    trainer, helper = out["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    assert trainer["image"] == IMAGE and len(notes) == 1
    # The user's own endpoint is kept; only what is missing is added.
    assert [e["name"] for e in trainer["env"]] == ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                                   "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"]
    assert trainer["env"][0]["value"] == "http://elsewhere:9000"
    assert helper == {"name": "helper", "image": "busybox:1.36", "command": ["sleep", "1"]}
    assert out["metadata"]["namespace"] == WORKLOADS and document["metadata"].get("namespace") is None
    document["metadata"]["namespace"] = "team-a"
    assert prepare(document, WORKLOADS, IMAGE)[1][0] == (
        "metadata.namespace team-a -> appliance-workloads (the stack's workload namespace: its network "
        "policies let trials reach the object store)")


def test_the_rendered_bundles_katib_config_is_read(standard_objects: list[dict[str, Any]]) -> None:
    fake = FakeCluster()
    [config] = [o for o in standard_objects if o["kind"] == "ConfigMap"
                and o["metadata"]["name"] == "katib-config"]
    fake.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "katib"}}, config])
    assert enabled_algorithms(fake) == ("random", "tpe", "grid", "hyperband", "bayesianoptimization",
                                        "cmaes", "sobol", "multivariate-tpe", "enas", "darts", "pbt")
