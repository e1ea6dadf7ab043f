"""The local engine on small self-contained pipelines (no stack: a root dir and an environment)."""

from __future__ import annotations

import builtins
import logging
import sys
from pathlib import Path

import pytest
from kfp import compiler
from kfp.local import config

from appliance.pipelines import loader
from appliance.pipelines.model import CACHED, FAILED, SKIPPED, SUCCEEDED
from appliance.targets.local.pipelines.engine import LocalPipelinesEngine, execute

DATA = Path(__file__).parent / "data"


@pytest.fixture
def engine(tmp_path: Path) -> LocalPipelinesEngine:
    return LocalPipelinesEngine(tmp_path / "pipelines",
                                {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_SECRET_ACCESS_KEY": "s"})


def test_linear_run_outputs_and_logs(engine: LocalPipelinesEngine) -> None:
    run = engine.run(DATA / "linear.py", {"a": 1, "flag": True})
    assert run.state == SUCCEEDED and run.error == ""
    # As on a cluster, the whole numbers of a list stay ints: sum([1, 2]) is 3, not 3.0.
    assert run.outputs == {"Output": "x:3.0:True:3:['k']"}
    assert [(t.key, t.state, t.attempts, t.outputs) for t in run.tasks] == [
        ("add", SUCCEEDED, 1, {"Output": 3}),
        ("add-2", SUCCEEDED, 1, {"Output": 6}),
        ("describe", SUCCEEDED, 1, {"Output": "x:3.0:True:3:['k']"}),
    ]
    assert "adding 1 and 2" in run.task("add").log
    assert "adding 3 and 3" not in run.task("add").log
    assert run.task("add-2").log.count("adding 3 and 3") == 1
    assert "\x1b[" not in run.log
    assert Path(run.root).is_relative_to(engine.root / "runs")


def test_failing_task_names_the_task_its_error_and_log(engine: LocalPipelinesEngine) -> None:
    run = engine.run(DATA / "failing.py")
    assert run.state == FAILED
    assert run.failed_tasks == ("boom",)
    assert run.error == "Pipeline 'failing' finished with status FAILURE. Inner task failed: 'boom'."
    assert [(t.key, t.state) for t in run.tasks] == [
        ("ok", SUCCEEDED), ("boom", FAILED), ("ok-2", SKIPPED)
    ]
    boom = run.task("boom")
    assert boom.error == "ValueError: boom 2"
    assert boom.log_tail(2).splitlines() == ['    raise ValueError(f"boom {x}")', "ValueError: boom 2"]
    assert "about to fail with 2" in boom.log


def test_kfp_local_global_state_is_restored(engine: LocalPipelinesEngine) -> None:
    before = (config.LocalExecutionConfig.instance, builtins.print, sys.stdout,
              logging.getLogger().handlers[:], logging.getLogger().level)
    engine.run(DATA / "parallel.py")
    engine.run(DATA / "failing.py")
    after = (config.LocalExecutionConfig.instance, builtins.print, sys.stdout,
             logging.getLogger().handlers[:], logging.getLogger().level)
    assert after == before


def test_parallel_for_logs_stay_with_their_iteration(engine: LocalPipelinesEngine) -> None:
    run = engine.run(DATA / "parallel.py")
    assert run.state == SUCCEEDED
    assert run.outputs == {"Output": "ALPHA,BETA,GAMMA"}
    loops = {t.key: t for t in run.tasks if t.name == "shout"}
    assert sorted(loops) == [f"for-loop-1-iteration-{i}/shout" for i in range(3)]
    for index, word in enumerate(("alpha", "beta", "gamma")):
        task = loops[f"for-loop-1-iteration-{index}/shout"]
        mine = [line for line in task.log.splitlines() if " line " in line]
        assert mine == [f"{word} line {n}" for n in range(3)]
        assert task.outputs == {"Output": word.upper()}


def test_retries_per_run(engine: LocalPipelinesEngine, tmp_path: Path) -> None:
    failed = engine.run(DATA / "flaky.py", {"marker": str(tmp_path / "m1")})
    assert (failed.state, failed.task("flaky").attempts) == (FAILED, 1)
    run = engine.run(DATA / "flaky.py", {"marker": str(tmp_path / "m2")}, retries=2)
    assert run.state == SUCCEEDED
    flaky = run.task("flaky")
    assert (flaky.state, flaky.attempts, flaky.outputs) == (SUCCEEDED, 3, {"Output": "done after 3"})
    assert [line for line in flaky.log.splitlines() if line.startswith("---")] == [
        "--- attempt 1 of 3 ---", "--- attempt 2 of 3 ---", "--- attempt 3 of 3 ---"
    ]


def test_caching_per_run(engine: LocalPipelinesEngine) -> None:
    first = engine.run(DATA / "linear.py", {"a": 5}, caching=True)
    second = engine.run(DATA / "linear.py", {"a": 5}, caching=True)
    third = engine.run(DATA / "linear.py", {"a": 5})
    assert [t.state for t in first.tasks] == [SUCCEEDED] * 3
    assert [(t.key, t.state, t.outputs) for t in second.tasks] == [
        ("add", CACHED, {"Output": 7}),
        ("add-2", CACHED, {"Output": 10}),
        ("describe", CACHED, {"Output": "x:5.0:False:3:['k']"}),
    ]
    assert second.outputs == first.outputs
    assert [t.state for t in third.tasks] == [SUCCEEDED] * 3


def test_tasks_see_the_stack_environment(engine: LocalPipelinesEngine) -> None:
    run = engine.run(DATA / "environment.py")
    assert run.outputs == {"Output": "http://127.0.0.1:1|True"}


def test_the_pipeline_job_id_is_the_run_id(engine: LocalPipelinesEngine) -> None:
    # kfp.local alone would give tasks a random 8-digit job id that the report never shows.
    run = engine.run(DATA / "job_id.py")
    assert run.state == SUCCEEDED, run.error
    assert {t.key: t.outputs["Output"] for t in run.tasks} == {
        "echo": run.run_id,
        "echo-2": f"runs/{run.run_id}/model.json",
        "for-loop-2-iteration-0/echo-3": run.run_id,
        "for-loop-2-iteration-1/echo-3": run.run_id,
        "join": f"{run.run_id},{run.run_id}",
    }
    assert Path(run.root).name == run.run_id


def test_compiled_yaml_named_like_a_component_with_named_output_condition(
    engine: LocalPipelinesEngine, tmp_path: Path
) -> None:
    # kfp's own YAML loader would take this file for its single `decide` component, and
    # kfp.local alone would skip the branch: both are handled.
    compiled = tmp_path / "decide.yaml"
    compiler.Compiler().compile(loader._import(DATA / "named.py").decide_pipeline, str(compiled))
    run = engine.run(compiled, {"score": 0.9})
    assert [(t.key, t.state, t.outputs) for t in run.tasks] == [
        ("decide", SUCCEEDED, {"go": True, "why": "score 0.9"}),
        ("act", SUCCEEDED, {"Output": "score 0.9"}),
    ]
    assert run.warnings == ()
    low = engine.run(compiled, {"score": 0.1})
    assert [(t.key, t.state) for t in low.tasks] == [("decide", SUCCEEDED), ("act", SKIPPED)]


def test_an_exception_inside_kfp_local_fails_the_task_it_was_handling(tmp_path: Path) -> None:
    # The spec is run as is, without localize's refusal: kfp.local raises a bare IndexError
    # while resolving the placeholder of task echo-2, before anything starts.
    spec = loader.load(DATA / "placeholders.py").spec
    for name in ("echo", "echo-3"):
        del spec.root.dag.tasks[name]
    run = execute(spec, {}, tmp_path)
    assert run.state == FAILED
    assert run.error == "kfp.local failed at echo-2: IndexError: list index out of range"
    assert [(t.key, t.state, t.attempts, t.error) for t in run.tasks] == [
        ("echo-2", FAILED, 0, "kfp.local: IndexError: list index out of range")]
    assert run.failed_tasks == ("echo-2",)
