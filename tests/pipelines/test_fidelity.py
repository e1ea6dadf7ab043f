"""What kfp.local alone gets wrong, run as users run it (stack.pipelines.run or `appliance run`
on a pipeline file): integers, orchestration failures, placeholders and importers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from appliance.errors import BadInput, MissingPrerequisite
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


def test_importers_read_the_stack_object_store(local_stack: Stack) -> None:
    # kfp.local alone: FileNotFoundError: '/s3/mlpipeline/fidelity/data.txt'.
    client, bucket = local_stack.object_store.client(), local_stack.object_store.bucket
    put = {"fidelity/data.txt": b"hello data", "fidelity/folder/a.txt": b"A",
           "fidelity/folder/sub/b.txt": b"B", "fidelity/other/c.txt": b"C"}
    for key, body in put.items():
        client.put_object(bucket, key, io.BytesIO(body), len(body))
    run = local_stack.pipelines.run(DATA / "importer.py")
    assert (run.state, run.error) == (SUCCEEDED, "")
    assert outputs_by_key(run) == {"importer": None, "importer-2": None, "read": "hello data",
                                   "read-2": "a.txt=A,sub/b.txt=B rows=2"}
    imports = local_stack.run_dir / "pipelines" / "imports" / bucket
    assert run.task("importer").outputs == {}
    assert [note for note in run.warnings if "imports" in note] == [
        f"task importer imports s3://mlpipeline/fidelity/data.txt: fetched from the stack's "
        f"object store before the run, tasks read it from {imports / 'fidelity/data.txt'}",
        f"task importer-2 imports minio://mlpipeline/fidelity/folder: fetched from the stack's "
        f"object store before the run, tasks read it from {imports / 'fidelity/folder'}",
    ]
    # The folder follows the store: an object deleted there is gone from the next run's copy.
    client.remove_object(bucket, "fidelity/folder/sub/b.txt")
    again = local_stack.pipelines.run(DATA / "importer.py",
                                      {"folder": "s3://mlpipeline/fidelity/folder/"})
    assert again.task("read-2").outputs == {"Output": "a.txt=A rows=2"}


@pytest.mark.parametrize(
    ("folder", "error", "message"),
    [
        ("s3://mlpipeline/fidelity/missing", MissingPrerequisite,
         "task importer-2 imports s3://mlpipeline/fidelity/missing: the stack's object store has "
         "no object 'fidelity/missing' and nothing under 'fidelity/missing/' in bucket "
         "'mlpipeline' (fix: upload it first (eval \"$(appliance env)\"; aws s3 cp FILE "
         "s3://mlpipeline/fidelity/missing))"),
        ("s3://no-such-bucket/x", MissingPrerequisite,
         "task importer-2 imports s3://no-such-bucket/x: the stack's object store has no bucket "
         "'no-such-bucket' (fix: import from a bucket of the stack (mlpipeline))"),
        ("s3://mlpipeline/../../etc", BadInput,
         "task importer-2 imports s3://mlpipeline/../../etc, which cannot be copied locally: its "
         "key '../../etc' leaves its folder ('..' or a leading '/') (fix: import a key without "
         "'..' segments)"),
    ],
)
def test_an_import_that_cannot_be_fetched_is_refused_before_the_run(
        local_stack: Stack, folder: str, error: type[Exception], message: str) -> None:
    # The pipeline's first importer must find its file whichever worker runs this test: only the
    # second importer's folder is what is tested here.
    store = local_stack.object_store
    store.client().put_object(store.bucket, "fidelity/data.txt", io.BytesIO(b"hello data"), 10)
    runs = local_stack.run_dir / "pipelines" / "runs"
    before = sorted(runs.iterdir()) if runs.exists() else []
    with pytest.raises(error) as caught:
        local_stack.pipelines.run(DATA / "importer.py", {"folder": folder})
    assert caught.value.render() == message  # type: ignore[attr-defined]
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before


def test_the_documented_way_around_a_nested_loop_over_an_item_field(local_stack: Stack) -> None:
    run = local_stack.pipelines.run(f"{DATA / 'nested_loops.py'}:workaround")
    assert (run.state, run.error) == (SUCCEEDED, "")
    assert outputs_by_key(run) == {
        "show": "before", "for-loop-1-iteration-0/parts-of": ["1", "2"],
        "for-loop-1-iteration-0/for-loop-2-iteration-0/show-2": "1",
        "for-loop-1-iteration-0/for-loop-2-iteration-1/show-2": "2"}

