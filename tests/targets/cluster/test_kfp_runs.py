"""The mapping of a finished KFP run (task details + executor pods and logs) to a PipelineRun, for
the cases the fake backend does not stage: pods gone (with or without an archived log), retries,
canceled runs, system log lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appliance.pipelines import loader
from appliance.pipelines.model import FAILED, SKIPPED, SUCCEEDED, TaskRun
from appliance.targets.cluster import pipeline_ir as ir
from appliance.targets.cluster.kfp_runs import NODE_NAME, POD_GONE, POD_GONE_UNREAD, PodLog, pipeline_run

REFERENCE = Path(__file__).resolve().parents[3] / "conformance" / "pipelines"
SPEC = loader.load(REFERENCE / "failing_step.py").spec
FAN_OUT = loader.load(REFERENCE / "fan_out.py").spec
GLOG = "I0101 00:00:01.000000      17 launcher_v2.go:155] publish success"
LOGRUS = 'time="2026-01-01T00:00:01.000Z" level=info msg="sub-process exited" argo=true error="<nil>"'


def detail(name: str, state: str, start: int, end: int | None = None, **extra: Any) -> dict[str, Any]:
    found = {"display_name": name, "state": state, "start_time": f"2026-01-01T00:00:{start:02d}Z", **extra}
    if end is not None:
        found["end_time"] = f"2026-01-01T00:00:{end:02d}Z"
    return found


def pod(name: str, task: str, node: str, created: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": f"2026-01-01T00:00:{created:02d}Z",
                         "annotations": {ir.TASKS_ANNOTATION: task, NODE_NAME: node}},
            "status": {"phase": "Running"}}


def marker(outputs: dict[str, Any]) -> str:
    return ir.OUTPUT_MARKER + json.dumps({"parameterValues": outputs})


def run(state: str, *details: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"run_id": "r1", "state": state, "run_details": {"task_details": list(details)}, **extra}


GONE_RUN = run("FAILED",
               detail("failing-step-x", "FAILED", 0, 30),
               detail("make-dataset-driver", "SUCCEEDED", 1, 2),
               detail("make-dataset", "SUCCEEDED", 2, 6, task_id="t1"),
               detail("create-model", "SUCCEEDED", 3, 8, task_id="t2"),
               detail("evaluate-model", "FAILED", 9, 14, task_id="t3", error={"message": "exit status 1"}),
               # Argo's Omitted node downstream of the failure, as KFP 2.17 reports it.
               detail("gate-model", "RUNTIME_STATE_UNSPECIFIED", 15, 15, task_id="t4"),
               error={"message": "run failed"})


def test_tasks_whose_pods_are_gone_come_from_the_task_details() -> None:
    result = pipeline_run(GONE_RUN, SPEC, [], {"model": "m"}, duration=30.0, root="minio://x", archived={})
    assert result.tasks == (
        TaskRun("make-dataset", "make-dataset", SUCCEEDED, 1, 4.0, {}, POD_GONE),
        TaskRun("create-model", "create-model", SUCCEEDED, 1, 5.0, {}, POD_GONE),
        TaskRun("evaluate-model", "evaluate-model", FAILED, 1, 5.0, {}, POD_GONE, "exit status 1"),
        TaskRun("gate-model", "gate-model", SKIPPED),
    )
    assert (result.state, result.failed_tasks) == (FAILED, ("evaluate-model",))
    assert result.error == "task evaluate-model failed: exit status 1"
    assert result.warnings == ()
    # Without an archive to look in, the note says it was not looked up.
    unread = pipeline_run(GONE_RUN, SPEC, [], {"model": "m"}, duration=30.0, root="minio://x")
    assert [t.log for t in unread.tasks] == [POD_GONE_UNREAD] * 3 + [""]


def test_an_archived_log_stands_in_for_a_gone_pod_and_the_report_says_so() -> None:
    uri = "s3://mlpipeline/private-artifacts/kubeflow/w/2026/01/01/w-system-container-impl-1/main.log"
    archived = {
        "t3": PodLog({}, f"{GLOG}\nloading m\nValueError: bad model\n{GLOG}\n", archive=uri),
        # A succeeded task's archived log carries its outputs, as its pod's log would.
        "t1": PodLog({}, f"{GLOG}\nwrote 5 rows\n{marker({'Output': 's3://b/d.csv'})}\n", archive=uri + "x"),
        "t2": PodLog({}, None, "(no log: the task's pod is gone, and Argo's archive could not be read: "
                               "AccessDenied: Access Denied.)"),
    }
    result = pipeline_run(GONE_RUN, SPEC, [], {"model": "m"}, duration=30.0, root="minio://x",
                          warnings=("compiled",), archived=archived)
    assert result.tasks == (
        TaskRun("make-dataset", "make-dataset", SUCCEEDED, 1, 4.0, {"Output": "s3://b/d.csv"},
                "wrote 5 rows"),
        TaskRun("create-model", "create-model", SUCCEEDED, 1, 5.0, {}, archived["t2"].problem),
        TaskRun("evaluate-model", "evaluate-model", FAILED, 1, 5.0, {}, "loading m\nValueError: bad model",
                "ValueError: bad model"),
        TaskRun("gate-model", "gate-model", SKIPPED),
    )
    assert result.error == "task evaluate-model failed: ValueError: bad model"
    assert result.warnings == (
        "compiled",
        f"log of make-dataset read from the archive {uri}x (its pod is gone)",
        f"log of evaluate-model read from the archive {uri} (its pod is gone)")


def test_retries_of_one_task_are_its_attempts_and_system_lines_are_not_its_log() -> None:
    finished = run("SUCCEEDED", detail("make-dataset", "SUCCEEDED", 1, 9),
                   detail("create-model", "SUCCEEDED", 1, 3), detail("evaluate-model", "SUCCEEDED", 10, 12),
                   detail("gate-model", "SUCCEEDED", 13, 15))
    first = "\n".join([GLOG, "writing", "ConnectionError: reset by peer", LOGRUS, GLOG])
    second = "\n".join([GLOG, "writing", "wrote 50 rows", marker({"Output": "s3://b/d.csv"}), GLOG])
    pods = [PodLog(pod("p2", "make-dataset", "w.root.make-dataset(1)", 5), second),
            PodLog(pod("p1", "make-dataset", "w.root.make-dataset(0)", 1), first)]
    result = pipeline_run(finished, SPEC, pods, {}, duration=15.0, root="r")
    assert result.task("make-dataset") == TaskRun(
        "make-dataset", "make-dataset", SUCCEEDED, 2, 8.0, {"Output": "s3://b/d.csv"},
        "--- attempt 1 of 2 ---\nwriting\nConnectionError: reset by peer\n"
        "--- attempt 2 of 2 ---\nwriting\nwrote 50 rows")
    assert [t.key for t in result.tasks] == ["create-model", "make-dataset", "evaluate-model", "gate-model"]
    assert result.state == SUCCEEDED and result.error == ""


def test_a_canceled_run_is_failed_and_a_task_still_running_did_not_finish() -> None:
    finished = run("CANCELED", detail("make-dataset", "SUCCEEDED", 1, 2),
                   detail("create-model", "RUNNING", 1), error={"message": "terminated by the user"})
    pods = [PodLog(pod("p1", "create-model", "w.root.create-model", 1), f"{GLOG}\nloading")]
    result = pipeline_run(finished, SPEC, pods, {}, duration=5.0, root="r")
    assert result.states() == {"make-dataset": SUCCEEDED, "create-model": FAILED,
                               "evaluate-model": SKIPPED, "gate-model": SKIPPED}
    assert result.task("create-model").error == "loading"
    assert (result.state, result.error) == (FAILED, "task create-model failed: loading")
    nothing_failed = run("CANCELED", detail("make-dataset", "SUCCEEDED", 1, 2),
                         error={"message": "terminated by the user"})
    assert pipeline_run(nothing_failed, SPEC, [], {}, duration=1.0, root="r").error == (
        "the KFP run ended CANCELED: terminated by the user")


def test_loop_iterations_take_their_index_from_argos_node_name_not_their_start_order() -> None:
    finished = run("SUCCEEDED", *[detail("score-lr", "SUCCEEDED", 5 - i, 9) for i in range(3)],
                   detail("pick-best", "SUCCEEDED", 10, 11))
    pods = [PodLog(pod(f"p{i}", "score-lr", f"w.root.for-loop-1.iteration({i}:0.{i}).score-lr", 5 - i),
                   marker({"Output": str(i)})) for i in range(3)]
    result = pipeline_run(finished, FAN_OUT, pods, {}, duration=1.0, root="r")
    assert {t.key: t.outputs for t in result.tasks if t.name == "score-lr"} == {
        f"for-loop-1-iteration-{i}/score-lr": {"Output": str(i)} for i in range(3)}
    # pick-best has no pod: its outputs are unknown, so the pipeline output is absent, not guessed.
    assert result.task("pick-best").outputs == {} and result.outputs == {}
