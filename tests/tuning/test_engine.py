"""The local engine end to end: trials as processes, Katib's completion order, counting, stopping."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from appliance.targets.local.tuning.engine import LocalTuningEngine, Progress, trial_name
from appliance.tuning import experiment as experiments


def states(result: Any) -> dict[str, str]:
    """Trial name -> its terminal condition type, in creation order."""
    out = {}
    for trial in result.trials:
        true = [c["type"] for c in trial["status"]["conditions"] if c["status"] == "True"]
        out[trial["metadata"]["name"]] = true[-1]
    return out


def counters(result: Any) -> dict[str, Any]:
    status = result.status
    return {k: v for k, v in status.items() if k == "trials" or k.startswith("trials")
            or k == "trialMetricsUnavailable"}


def assignments(result: Any) -> list[dict[str, str]]:
    return [{a["name"]: a["value"] for a in t["spec"]["parameterAssignments"]} for t in result.trials]


def test_goal_reached_wins_over_the_trial_budget(kit: Any, engine: LocalTuningEngine) -> None:
    # Three grid points, three trials at once: the budget and the goal are met at the same time.
    data = kit.manifest(
        parameters=[kit.categorical("x", "0.2", "0.95", "0.5")],
        objective={"type": "maximize", "goal": 0.9, "objectiveMetricName": "accuracy"},
        algorithm={"algorithmName": "grid"}, parallelTrialCount=3, maxTrialCount=3,
    )
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentGoalReached"
    assert result.condition["message"] == "Experiment has succeeded because Objective goal has reached"
    assert sorted(a["x"] for a in assignments(result)) == ["0.2", "0.5", "0.95"]
    best = result.best
    assert best["parameterAssignments"] == [{"name": "x", "value": "0.95"}]
    assert best["observation"] == {"metrics": [
        {"name": "accuracy", "min": "0.95", "max": "0.95", "latest": "0.95"}]}
    assert counters(result) == {"trials": 3, "trialsSucceeded": 3}


def test_goal_stops_creating_trials(kit: Any, engine: LocalTuningEngine) -> None:
    data = kit.manifest(args=["--print=accuracy=0.99", "--tag=${trialParameters.x}"],
                        objective={"type": "maximize", "goal": 0.9, "objectiveMetricName": "accuracy"},
                        maxTrialCount=10)
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentGoalReached"
    assert counters(result) == {"trials": 1, "trialsSucceeded": 1}


def test_the_failure_budget_fails_the_experiment(kit: Any, engine: LocalTuningEngine) -> None:
    data = kit.manifest(args=["--print=accuracy=${trialParameters.x}", "--exit=3"],
                        maxTrialCount=5, maxFailedTrialCount=2)
    result = engine.run(data)
    assert (result.condition["type"], result.condition["reason"], result.condition["message"]) == (
        "Failed", "ExperimentFailed", "Experiment has failed because max failed count has reached")
    assert counters(result) == {"trials": 2, "trialsFailed": 2}
    failed = result.trials[0]["status"]["conditions"][-1]
    assert failed["reason"] == "TrialFailed. Job reason: BackoffLimitExceeded"
    assert failed["message"].startswith(
        "Trial has failed. Job message: Job has reached the specified backoff limit (container "
        "'training' exited with code 3; see ")
    assert "observation" not in result.trials[0]["status"]
    conditions = [(c["type"], c["status"]) for c in result.status["conditions"]]
    assert conditions == [("Created", "True"), ("Running", "False"), ("Failed", "True")]


def test_metrics_unavailable_counts_as_failed_and_completed(kit: Any, engine: LocalTuningEngine) -> None:
    data = kit.manifest(args=["--print=loss=0.5", "--tag=${trialParameters.x}"], maxTrialCount=4,
                        maxFailedTrialCount=2)
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentFailed"
    assert counters(result) == {"trials": 2, "trialMetricsUnavailable": 2}
    trial = result.trials[0]
    assert trial["status"]["conditions"][-1]["reason"] == "MetricsUnavailable"
    assert trial["status"]["conditions"][-1]["message"] == "Metrics are not available"
    assert trial["status"]["observation"] == {"metrics": [
        {"name": "accuracy", "min": "unavailable", "max": "unavailable", "latest": "unavailable"}]}


def test_metrics_unavailable_trials_get_replacements_yet_count_toward_the_budget(
    kit: Any, engine: LocalTuningEngine
) -> None:
    # Two at once, budget two, every trial without metrics. The first MetricsUnavailable trial
    # is replaced (creation ignores MetricsUnavailable), the second completes the budget
    # (completion counts it): three trials, and the experiment Succeeds on max trials.
    data = kit.manifest(args=["--print=loss=0.5", "--tag=${trialParameters.x}"], parallelTrialCount=2,
                        maxTrialCount=2)
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentMaxTrialsReached"
    assert counters(result) == {"trials": 3, "trialMetricsUnavailable": 3}
    # The same experiment with Failed trials: a failure is not replaced.
    data = kit.manifest(args=["--exit=1", "--tag=${trialParameters.x}"], parallelTrialCount=2,
                        maxTrialCount=2)
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentMaxTrialsReached"
    assert counters(result) == {"trials": 2, "trialsFailed": 2}


def test_a_missing_command_fails_its_trial_and_the_experiment_goes_on(
    kit: Any, engine: LocalTuningEngine
) -> None:
    data = kit.manifest(
        parameters=[kit.categorical("cmd", "no-such-trainer-xyz", "python")],
        command=["${trialParameters.cmd}", kit.trial], args=["--print=accuracy=0.5"],
        algorithm={"algorithmName": "grid"}, maxTrialCount=2,
    )
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentMaxTrialsReached"
    by_command = {a["cmd"]: s for a, s in zip(assignments(result), states(result).values(), strict=True)}
    assert by_command == {"no-such-trainer-xyz": "Failed", "python": "Succeeded"}
    failed = next(t for t in result.trials if t["spec"]["parameterAssignments"][0]["value"] != "python")
    condition = failed["status"]["conditions"][-1]
    assert condition["reason"] == "TrialFailed. Job reason: StartError"
    assert condition["message"] == ('Trial has failed. Job message: exec: "no-such-trainer-xyz": '
                                    "executable file not found in $PATH")


def test_grid_runs_every_point_once(kit: Any, engine: LocalTuningEngine) -> None:
    data = kit.manifest(
        parameters=[{"name": "x", "parameterType": "double",
                     "feasibleSpace": {"min": "0.1", "max": "0.3", "step": "0.1"}},
                    {"name": "n", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}}],
        args=["--print=accuracy=${trialParameters.x}", "--print=n=${trialParameters.n}"],
        algorithm={"algorithmName": "grid", "algorithmSettings": [{"name": "random_state", "value": "2"}]},
        parallelTrialCount=3, maxTrialCount=6,
    )
    result = engine.run(data)
    assert result.condition["reason"] == "ExperimentMaxTrialsReached"
    points = sorted((a["x"], a["n"]) for a in assignments(result))
    assert points == sorted((x, n) for x in ("0.1", "0.2", "0.30000000000000004") for n in ("1", "2"))
    assert result.best["observation"]["metrics"][0]["max"] == "0.30000000000000004"


def test_each_parameter_type_reaches_the_trial_as_a_string(kit: Any, engine: LocalTuningEngine,
                                                          tmp_path: Path) -> None:
    record = tmp_path / "args.json"
    parameters = [
        {"name": "i", "parameterType": "int", "feasibleSpace": {"min": "10", "max": "20", "step": "5"}},
        {"name": "lr", "parameterType": "double",
         "feasibleSpace": {"min": "0.0001", "max": "0.1", "distribution": "logUniform"}},
        kit.categorical("opt", "sgd", "adam"),
        {"name": "k", "parameterType": "discrete", "feasibleSpace": {"list": ["16", "32"]}},
    ]
    data = kit.manifest(parameters=parameters, maxTrialCount=1, args=[
        "--print=accuracy=${trialParameters.lr}", f"--record={record}",
        "--print=i=${trialParameters.i} opt=${trialParameters.opt} k=${trialParameters.k}"])
    result = engine.run(data)
    (values,) = assignments(result)
    argv = json.loads(record.read_text())["argv"]
    assert argv[0] == f"--print=accuracy={values['lr']}"
    assert argv[2] == f"--print=i={values['i']} opt={values['opt']} k={values['k']}"
    # random_state 1 (the kit's default) fixes the one sample: int on its step grid, a
    # logUniform double, a categorical and a discrete value, each as Katib's string.
    assert values == {"i": "15", "lr": "0.01448683388723935", "opt": "adam", "k": "16"}


def test_same_random_state_same_trials_in_the_same_order(kit: Any, tmp_path: Path) -> None:
    # Trials finish out of order (their sleep depends on the value), three at a time, with TPE.
    data = kit.manifest(
        parameters=[{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "0.3"}}],
        args=["--print=accuracy=${trialParameters.x}", "--sleep=${trialParameters.x}"],
        algorithm={"algorithmName": "tpe", "algorithmSettings": [{"name": "random_state", "value": "4"}]},
        parallelTrialCount=3, maxTrialCount=9,
    )
    runs = [LocalTuningEngine(tmp_path / f"w{i}").run(data) for i in range(2)]
    first, second = ([(t["metadata"]["name"], t["spec"]["parameterAssignments"]) for t in r.trials]
                     for r in runs)
    assert first == second and len(first) == 9
    assert runs[0].best == runs[1].best


def test_trial_names_are_katib_shaped_and_reproducible() -> None:
    name = trial_name("exp", 0, set())
    assert name == trial_name("exp", 0, set()) and name != trial_name("exp", 1, set())
    suffix = name.removeprefix("exp-")
    assert len(suffix) == 8 and set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert trial_name("exp", 0, {name}) != name


def test_medianstop_stops_trials_below_the_mean_of_earlier_averages(
    kit: Any, engine: LocalTuningEngine
) -> None:
    # Trial v prints 0.0v, then 0.v three times. With min_trials_required=2 and start_step=2,
    # trials created after two successes get the rule "best of the first two reports < mean of
    # the succeeded trials' averages of their first two reports". The grid order comes from the
    # seed; the rule is checked for every trial whatever the order.
    data = kit.manifest(
        parameters=[kit.categorical("v", "2", "4", "6", "8")],
        args=["--print=accuracy=0.0${trialParameters.v}|accuracy=0.${trialParameters.v}"
              "|accuracy=0.${trialParameters.v}|accuracy=0.${trialParameters.v}"],
        algorithm={"algorithmName": "grid", "algorithmSettings": [{"name": "random_state", "value": "7"}]},
        earlyStopping={"algorithmName": "medianstop", "algorithmSettings": [
            {"name": "min_trials_required", "value": "2"}, {"name": "start_step", "value": "2"}]},
        maxTrialCount=4,
    )
    result = engine.run(data)
    succeeded_averages: list[float] = []
    for trial in result.trials:
        v = trial["spec"]["parameterAssignments"][0]["value"]
        first_two = [float(f"0.0{v}"), float(f"0.{v}")]
        rules = trial["spec"].get("earlyStoppingRules", [])
        if len(succeeded_averages) >= 2:
            threshold = sum(succeeded_averages) / len(succeeded_averages)
            assert rules == [{"name": "accuracy", "value": str(threshold), "comparison": "less",
                              "startStep": 2}]
            expected = "EarlyStopped" if max(first_two) < threshold else "Succeeded"
        else:
            assert rules == []
            expected = "Succeeded"
        assert states(result)[trial["metadata"]["name"]] == expected
        if expected == "Succeeded":
            succeeded_averages.append(sum(first_two) / 2)
        else:
            # The observation ends at the line that stopped the trial (the second report).
            assert trial["status"]["observation"]["metrics"][0] == {
                "name": "accuracy", "min": f"0.0{v}", "max": f"0.{v}", "latest": f"0.{v}"}
    # With this seed the order is 6, 4, 2, 8: the third trial stops (0.2 < mean(0.33, 0.22)).
    assert [t["spec"]["parameterAssignments"][0]["value"] for t in result.trials] == ["6", "4", "2", "8"]
    assert list(states(result).values()) == ["Succeeded", "Succeeded", "EarlyStopped", "Succeeded"]
    assert result.status["trialsEarlyStopped"] == 1


def test_file_collector_text_and_json(kit: Any, engine: LocalTuningEngine) -> None:
    path = "/var/log/katib/metrics.json"
    data = kit.manifest(
        args=[f"--file={path}", '--file-line={"accuracy": "${trialParameters.x}"}',
              '--file-line={"accuracy": 2.0}', "--print=accuracy=5"],
        metricsCollectorSpec={"collector": {"kind": "File"}, "source": {"fileSystemPath": {
            "path": path, "kind": "File", "format": "JSON"}}},
        maxTrialCount=1,
    )
    result = engine.run(data)
    (trial,) = result.trials
    value = trial["spec"]["parameterAssignments"][0]["value"]
    # The number 2.0 is ignored (not a string); stdout is not the File collector's source.
    assert trial["status"]["observation"]["metrics"] == [
        {"name": "accuracy", "min": value, "max": value, "latest": value}]
    assert not Path(path).exists()  # each trial got its own copy of the path
    text = kit.manifest(args=["--file=/tmp/katib/m.log", "--file-line=accuracy=0.25",
                              "--file-line=accuracy=0.5", "--tag=${trialParameters.x}"],
                        metricsCollectorSpec={"collector": {"kind": "File"}, "source": {
                            "fileSystemPath": {"path": "/tmp/katib/m.log", "kind": "File"}}},
                        maxTrialCount=1, name="text")
    (trial,) = engine.run(text).trials
    assert trial["status"]["observation"]["metrics"][0] == {
        "name": "accuracy", "min": "0.25", "max": "0.5", "latest": "0.5"}


def test_a_json_metrics_file_that_is_not_json_fails_the_trial(kit: Any, engine: LocalTuningEngine) -> None:
    path = "/var/log/katib/m.json"
    data = kit.manifest(args=[f"--file={path}", "--file-line=accuracy=1", "--tag=${trialParameters.x}"],
                        maxTrialCount=1,
                        metricsCollectorSpec={"collector": {"kind": "File"}, "source": {
                            "fileSystemPath": {"path": path, "kind": "File", "format": "JSON"}}})
    (trial,) = engine.run(data).trials
    condition = trial["status"]["conditions"][-1]
    assert (condition["type"], condition["reason"]) == ("Failed",
                                                        "TrialFailed. Job reason: MetricsCollectorError")
    assert condition["message"].endswith("metrics collector: line 1 is not JSON: Expecting value")


def test_backoff_limit_retries_and_metrics_come_from_the_last_attempt(
    kit: Any, engine: LocalTuningEngine
) -> None:
    data = kit.manifest(args=["--fail-first-attempt", "--print=accuracy=0.7", "--tag=${trialParameters.x}"],
                        maxTrialCount=1, job={"backoffLimit": 1})
    result = engine.run(data)
    assert list(states(result).values()) == ["Succeeded"]
    assert result.best["observation"]["metrics"][0]["latest"] == "0.7"
    work = result.work_dir
    assert work is not None
    trial_dir = work / result.trials[0]["metadata"]["name"]
    assert (trial_dir / "attempt-1" / "output.log").read_text() == "first attempt fails\n"
    assert (trial_dir / "attempt-2" / "output.log").read_text() == "accuracy=0.7\n"
    data = kit.manifest(args=["--fail-first-attempt", "--print=accuracy=0.7", "--tag=${trialParameters.x}"],
                        maxTrialCount=1, job={"backoffLimit": 0})
    assert list(states(engine.run(data)).values()) == ["Failed"]


def test_active_deadline_fails_the_trial_and_ends_its_processes(
    kit: Any, engine: LocalTuningEngine, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pids.json"
    data = kit.manifest(args=["--print=accuracy=0.5", f"--spawn-sleeper={pidfile}", "--sleep=30",
                              "--tag=${trialParameters.x}"],
                        maxTrialCount=1,
                        # 2 s: ample for the trial to write its pid file before the deadline.
                        job={"activeDeadlineSeconds": 2})
    result = engine.run(data)
    (trial,) = result.trials
    condition = trial["status"]["conditions"][-1]
    assert condition["reason"] == "TrialFailed. Job reason: DeadlineExceeded"
    assert condition["message"] == (
        "Trial has failed. Job message: Job was active longer than specified deadline")
    assert counters(result) == {"trials": 1, "trialsFailed": 1}
    # The deadline ended the trial's whole process group: the trial and the sleep it spawned.
    pids = json.loads(pidfile.read_text())
    # The signal reaches the orphaned sleeper asynchronously: wait for its death, bounded.
    from appliance.runtime.process import wait_until

    assert wait_until(lambda: not _alive(pids["trial"]) and not _alive(pids["sleeper"]), 10.0)


def test_trial_environment_substitution_and_run_spec(kit: Any, tmp_path: Path) -> None:
    record = tmp_path / "facts.json"
    data = kit.manifest(
        args=["--print=accuracy=${trialParameters.x}", f"--record={record}", "--out=$(OUT_DIR)/m",
              "--literal=$$(OUT_DIR)", "--name=${trialParameters.me}"],
        container={"env": [{"name": "TUNE_BASE", "value": "/models"},
                           {"name": "OUT_DIR", "value": "$(TUNE_BASE)/${trialParameters.me}"}]},
        maxTrialCount=1, name="envs",
    )
    data["spec"]["trialTemplate"]["trialParameters"].append({"name": "me", "reference": "${trialSpec.Name}"})
    result = LocalTuningEngine(tmp_path / "work", {"TUNE_STORE": "http://127.0.0.1:9"}).run(data)
    (trial,) = result.trials
    name = trial["metadata"]["name"]
    facts = json.loads(record.read_text())
    assert facts["trial"] == name
    assert facts["env"] == {"TUNE_BASE": "/models", "TUNE_STORE": "http://127.0.0.1:9"}
    assert facts["argv"][2:] == [f"--out=/models/{name}/m", "--literal=$(OUT_DIR)", f"--name={name}"]
    assert facts["cwd"] == str(tmp_path / "work" / "envs" / name)
    run_spec = trial["spec"]["runSpec"]
    assert run_spec["metadata"] == {"name": name, "namespace": "default"}
    assert run_spec["spec"]["template"]["spec"]["containers"][0]["args"][4] == f"--name={name}"
    assert trial["metadata"]["labels"] == {"katib.kubeflow.org/experiment": "envs"}
    saved = json.loads((tmp_path / "work" / "envs" / "experiment.json").read_text())
    assert saved == result.document


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _sleeping_trials(kit: Any, pidfiles: Path, **spec: Any) -> dict[str, Any]:
    """Two trials at a time that each record their pid and a sleeper's in pidfiles/<trial>, then
    sleep for a minute: what stopping a run must end."""
    pidfiles.mkdir()
    data = kit.manifest(
        args=["--print=accuracy=${trialParameters.x}", f"--spawn-sleeper={pidfiles}/${{trialParameters.me}}",
              "--sleep=60"],
        parallelTrialCount=2, maxTrialCount=4, **spec,
    )
    data["spec"]["trialTemplate"]["trialParameters"].append({"name": "me", "reference": "${trialSpec.Name}"})
    return data


def _all_ended(pidfiles: Path) -> list[dict[str, int]]:
    """The recorded trials and sleepers, each waited for (bounded): the signal reaches an orphaned
    sleeper asynchronously."""
    from appliance.runtime.process import wait_until

    pids = [json.loads(p.read_text()) for p in pidfiles.iterdir()]
    for entry in pids:
        assert wait_until(lambda e=entry: not _alive(e["trial"]) and not _alive(e["sleeper"]), 10.0)
    return pids


def test_interrupting_stops_every_trial_and_what_it_spawned(kit: Any, engine: LocalTuningEngine,
                                                            tmp_path: Path) -> None:
    pidfiles = tmp_path / "pids"
    data = _sleeping_trials(kit, pidfiles)

    def interrupt_when_both_run(progress: Progress) -> None:
        if len(list(pidfiles.iterdir())) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.run(experiments.parse(data), progress=interrupt_when_both_run)
    assert len(_all_ended(pidfiles)) == 2


def test_a_timeout_stops_every_trial_and_says_what_ran(kit: Any, engine: LocalTuningEngine,
                                                      tmp_path: Path) -> None:
    from appliance.errors import EXIT_EXTERNAL, TimedOut

    pidfiles = tmp_path / "pids"
    data = _sleeping_trials(kit, pidfiles, name="slow")
    with pytest.raises(TimedOut) as caught:
        engine.run(experiments.parse(data), timeout=3)
    error = caught.value
    assert error.exit_code == EXIT_EXTERNAL
    assert error.what == "timed out after 3s waiting for experiment slow"
    assert error.why == f"0 of 2 trials done, 2 running (stopped); trial logs in {engine.work_root / 'slow'}"
    assert error.fix == "pass a larger --timeout, or lower spec.maxTrialCount"
    assert len(_all_ended(pidfiles)) == 2  # both trials had started (3 s is ample to write a pid file)
    # The name is free again: the next run is not refused as "already running".
    result = engine.run(kit.manifest(maxTrialCount=1, name="slow"), timeout=60)
    assert counters(result)["trialsSucceeded"] == 1


def test_one_run_per_experiment_name(kit: Any, tmp_path: Path) -> None:
    import fcntl

    from appliance.errors import BadInput

    root = tmp_path / "work"
    root.mkdir()
    with open(root / ".exp.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(BadInput, match="experiment 'exp' is already running"):
            LocalTuningEngine(root).run(kit.manifest())


def test_progress_reports_counts_and_best(kit: Any, engine: LocalTuningEngine) -> None:
    seen: list[Progress] = []
    engine.run(kit.manifest(maxTrialCount=2), progress=seen.append)
    last = seen[-1]
    assert (last.trials, last.succeeded, last.running, last.failed) == (2, 2, 0, 0)
    assert last.best_trial and last.metric == "accuracy" and last.condition == "Succeeded"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
