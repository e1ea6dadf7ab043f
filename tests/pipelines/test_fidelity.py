"""What kfp.local alone gets wrong, run as users run it (stack.pipelines.run or `appliance run`
on a pipeline file): integers, orchestration failures, placeholders and importers."""

from __future__ import annotations

from pathlib import Path

from appliance.pipelines.model import FAILED, SUCCEEDED
from appliance.stack import Stack

DATA = Path(__file__).parent / "data"


def outputs_by_key(run: object) -> dict[str, object]:
    return {t.key: t.outputs.get("Output") for t in run.tasks}  # type: ignore[attr-defined]


def test_integers_arrive_as_a_cluster_delivers_them(local_stack: Stack) -> None:
    # kfp.local alone: "item 1.0", "[1.0, 4.0, 9.0] 14.0 {'k': 1.0}", a float where echo
    # declares str ("returned value of type float; want str"), and error_code 1.0.
    run = local_stack.pipelines.run(DATA / "numbers.py")
    assert (run.state, run.error) == (SUCCEEDED, "")
    assert outputs_by_key(run) == {
        "count-to": [1, 2, 3],
        "echo": "n=3 scale=2",
        "for-loop-2-iteration-0/square": 1,
        "for-loop-2-iteration-1/square": 4,
        "for-loop-2-iteration-2/square": 9,
        "for-loop-2-iteration-0/echo-2": "item 1",
        "for-loop-2-iteration-1/echo-2": "item 2",
        "for-loop-2-iteration-2/echo-2": "item 3",
        "total": "[1, 4, 9] 14 {'k': 1} 2.0",
        "for-loop-3-iteration-0/echo-3": "12",
        "for-loop-3-iteration-1/echo-3": "3",
        "check": None,
        "report": "SUCCEEDED None",
    }
    failed = local_stack.pipelines.run(DATA / "numbers.py", {"fail": True, "n": 1})
    assert failed.state == FAILED and failed.failed_tasks == ("check",)
    assert failed.task("report").outputs == {"Output": "FAILED 1"}
    assert failed.task("total").outputs == {"Output": "[1] 1 {'k': 1} 2.0"}
