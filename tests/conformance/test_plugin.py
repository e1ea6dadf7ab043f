"""The conformance pytest plugin, black box: pytest runs test files that use it, on real stacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from appliance.config import profile as profiles
from appliance.console import Console
from appliance.stack import Stack
from appliance.targets.interface import UpOptions
from appliance.targets.local.target import LocalTarget


def run_pytest(
    tmp_path: Path, source: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_user.py"
    test_file.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conformance.plugin", "-p", "no:cacheprovider",
         "-q", "-rs", str(test_file), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**os.environ, **(env or {}), "NO_COLOR": "1"},
    )


def leftovers(stack: Stack, prefix: str) -> list[str]:
    client = stack.object_store.client()
    return [str(o.object_name) for o in client.list_objects("mlpipeline", prefix=prefix, recursive=True)]


USER_TESTS = """
    import json, pathlib
    import pytest

    OUT = pathlib.Path(__file__).parent / "seen.jsonl"

    def record(**facts):
        with OUT.open("a") as handle:
            handle.write(json.dumps(facts) + "\\n")

    @pytest.mark.parametrize("copy", [1, 2])
    def test_fixtures(copy, stack, object_store, stub_dataset, stub_model, gate_policy):
        assert stub_dataset.uri == object_store.uri("data/conformance.csv")
        assert object_store.get("data/conformance.csv") == stub_dataset.csv
        champion = stub_model(accuracy=0.83, name="churn")
        challenger = stub_model(accuracy=0.88, groups={"a": 0.9, "b": 0.85}, name="churn")
        assert (champion.name, champion.version, challenger.version) == (challenger.name, "v1", "v2")
        assert champion.metrics(stub_dataset) == {
            "accuracy": 0.83, "groups": {"a": {"accuracy": 0.83}, "b": {"accuracy": 0.83}}}
        assert challenger.metrics(stub_dataset)["groups"] == {"a": {"accuracy": 0.9}, "b": {"accuracy": 0.85}}
        assert object_store.names("models/") == [
            f"models/{champion.name}/v1/model.json", f"models/{champion.name}/v2/model.json"]
        assert gate_policy.policy.min_improvement == gate_policy.policy.min_improvement.__class__("0.01")
        assert gate_policy.path.read_text() == object_store.get("policies/conformance.yaml").decode()
        record(stack=stack.name, prefix=object_store.prefix, model=champion.name)
"""


def test_fixtures_are_isolated_per_test_and_cleaned_up(tmp_path: Path, local_stack: Stack) -> None:
    done = run_pytest(tmp_path, USER_TESTS, "--stack", local_stack.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert {s["stack"] for s in seen} == {local_stack.name}
    assert len({s["prefix"] for s in seen}) == 2 and len({s["model"] for s in seen}) == 2
    for facts in seen:
        assert facts["prefix"].startswith("conformance/") and facts["prefix"].endswith("/")
        assert facts["model"].startswith("churn-") and len(facts["model"]) == len("churn-") + 6
        assert leftovers(local_stack, facts["prefix"]) == []


AREA_TESTS = """
    import pytest

    @pytest.mark.conformance_area("serving")
    @pytest.mark.requires_component("serving")
    def test_needs_serving(stack):
        raise AssertionError("must not run on a stack without serving")

    @pytest.mark.conformance_area("pipelines")
    @pytest.mark.requires_component("pipelines")
    def test_skips_by_itself(stack):
        pytest.skip("flaky today")

    @pytest.mark.conformance_area("pipelines")
    @pytest.mark.xfail(reason="known bug")
    def test_expected_to_fail():
        assert False

    @pytest.mark.conformance_area("object-store")
    def test_fails(object_store):
        assert object_store.names() == ["something"]

    def test_user_may_skip():
        pytest.skip("users' own tests keep their skips")
"""


def test_only_an_absent_component_skips_a_suite_test(
    tmp_path: Path, appliance_home: Path
) -> None:
    target, console = LocalTarget(), Console(quiet=True)
    target.up("small", profiles.load("minimal"), UpOptions(), console)
    try:
        results = tmp_path / "results.jsonl"
        done = run_pytest(tmp_path, AREA_TESTS, "--stack", "small", "--conformance-results", str(results))
    finally:
        target.down("small", console)
    assert done.returncode == 1, done.stdout + done.stderr
    events = {e["id"].split("::")[1]: e for e in map(json.loads, results.read_text().splitlines())}
    assert {name: (e["area"], e["outcome"]) for name, e in events.items()} == {
        "test_needs_serving": ("serving", "skipped"),
        "test_skips_by_itself": ("pipelines", "failed"),
        "test_expected_to_fail": ("pipelines", "failed"),
        "test_fails": ("object-store", "failed"),
        "test_user_may_skip": ("other", "skipped"),
    }
    assert events["test_needs_serving"]["message"] == (
        "component 'serving' is absent from profile 'minimal' of stack 'small'"
    )
    assert events["test_skips_by_itself"]["message"].startswith(
        "conformance tests are never skipped or expected to fail"
    )
    assert events["test_skips_by_itself"]["message"].endswith("this one was: Skipped: flaky today")
    assert events["test_fails"]["message"].startswith("AssertionError: assert [] == ['something']")
    assert events["test_user_may_skip"]["message"] == "users' own tests keep their skips"
    assert all(e["seconds"] >= 0 for e in events.values())


def test_an_absent_stack_is_a_usage_error(tmp_path: Path, appliance_home: Path) -> None:
    done = run_pytest(tmp_path, "def test_x(stack):\n    pass\n", "--stack", "nope")
    assert done.returncode == 4
    assert "ERROR: no stack named 'nope' is up (fix: run 'appliance up --name nope' first)" in done.stderr
    assert "Traceback" not in done.stderr


WORKER_TESTS = """
    import json, os, pathlib
    import pytest

    @pytest.mark.parametrize("n", range(4))
    def test_worker(n, stack, object_store):
        object_store.put("x.txt", b"x")
        out = pathlib.Path(__file__).parent / f"worker-{os.environ['PYTEST_XDIST_WORKER']}-{n}.json"
        out.write_text(json.dumps({"stack": stack.name, "prefix": object_store.prefix}))
"""


def test_xdist_workers_share_one_ephemeral_stack(tmp_path: Path, appliance_home: Path) -> None:
    done = run_pytest(tmp_path, WORKER_TESTS, "-n", "2", "--stack-profile", "minimal")
    assert done.returncode == 0, done.stdout + done.stderr
    seen = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("worker-*.json"))]
    assert len(seen) == 4
    assert {p.name.split("-")[1] for p in tmp_path.glob("worker-*.json")} == {"gw0", "gw1"}
    [name] = {s["stack"] for s in seen}
    assert name.startswith("conformance-")
    # The controller chose (and said so, once); the workers were handed the stack.
    assert done.stderr.count("starting ephemeral stack") == 1
    assert (f"no stack 'default' is running: starting ephemeral stack {name!r} (local, profile "
            "minimal); it is stopped at the end") in done.stderr.splitlines()
    assert len({s["prefix"] for s in seen}) == 4
    # Stopped by the session that started it: no run dir, no process.
    assert not (appliance_home / "stacks" / name).exists()


def test_options_are_documented() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "conformance.plugin", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert "appliance conformance suite" in done.stdout
    for flag in ("--target", "--stack=NAME", "--stack-profile=PROFILE", "--conformance-results=PATH"):
        assert flag in done.stdout


def test_a_serial_session_starts_and_stops_its_own_stack(tmp_path: Path, appliance_home: Path) -> None:
    source = """
        import pathlib

        def test_one(stack):
            (pathlib.Path(__file__).parent / "name.txt").write_text(stack.name + " " + stack.profile.name)
    """
    done = run_pytest(tmp_path, source, "--stack-profile", "minimal", "-p", "no:xdist")
    assert done.returncode == 0, done.stdout + done.stderr
    name, profile = (tmp_path / "name.txt").read_text().split()
    assert name.startswith("conformance-") and profile == "minimal"
    # Said on stderr, past pytest's capture, though it happened inside the test's setup.
    assert done.stderr.splitlines() == [
        f"no stack 'default' is running: starting ephemeral stack {name!r} (local, profile minimal); "
        "it is stopped at the end"]
    assert not (appliance_home / "stacks" / name).exists()


def test_without_stack_the_running_default_stack_is_tested_and_left_running(
    tmp_path: Path, appliance_home: Path
) -> None:
    source = """
        import pathlib

        def test_one(stack):
            (pathlib.Path(__file__).parent / "name.txt").write_text(stack.name + " " + stack.profile.name)
    """
    target, console = LocalTarget(), Console(quiet=True)
    target.up("default", profiles.load("minimal"), UpOptions(), console)
    try:
        done = run_pytest(tmp_path, source, "--stack-profile", "standard", "-p", "no:xdist")
        after = target.status("default")
    finally:
        target.down("default", console)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "name.txt").read_text() == "default minimal"
    assert done.stderr.splitlines() == [
        "testing the running stack 'default' (local, profile minimal); it is left running "
        "(--stack NAME tests another)"]
    assert after is not None and after.healthy
    assert [p.name for p in (appliance_home / "stacks").iterdir() if p.is_dir()] == []


def test_a_module_that_cannot_be_imported_fails_its_area(tmp_path: Path, local_stack: Stack) -> None:
    (tmp_path / "test_tuning.py").write_text("import no_such_module_anywhere\n")
    results = tmp_path / "results.jsonl"
    done = run_pytest(tmp_path, "def test_fine(stack):\n    pass\n", str(tmp_path / "test_tuning.py"),
                      "--stack", local_stack.name, "--conformance-results", str(results),
                      "--continue-on-collection-errors")
    assert done.returncode == 1, done.stdout + done.stderr
    events = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(e["id"], e["area"], e["outcome"]) for e in events] == [
        ("test_tuning.py", "tuning", "failed"), ("test_user.py::test_fine", "other", "passed"),
    ]
    assert events[0]["message"] == (
        "collection error: ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    )
