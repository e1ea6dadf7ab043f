"""The CLI as glue: commands resolve stacks through the stack index and call the Target interface.
A FakeTarget (tests/helpers/fakes.py) stands in for a real target: no process, no port."""

from __future__ import annotations

import json
from pathlib import Path

import cli_in_process
import pytest
from fakes import FakeTarget, factory

from appliance.cli import main
from appliance.doctor import Check
from appliance.runtime.state import RunDir


def run(args: list[str], target: FakeTarget, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return cli_in_process.run(["-q", *args] if args[0] != "-v" else args, capsys, factory(target))


def test_up_passes_name_profile_and_port_and_records_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeTarget()
    code, out, err = run(["up", "--name", "s1", "--profile", "minimal", "--port", "9123"], fake, capsys)
    assert (code, out, err) == (0, "", "")
    assert fake.calls == [("preflight", "minimal"), ("up", "s1", "minimal", "9123")]
    assert RunDir("s1").load() is not None


def test_up_refuses_when_a_prerequisite_fails_with_one_line_per_check(
    capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeTarget(checks=[Check("docker daemon", False, "not running", "start Docker"),
                              Check("cpus", False, "2", "give Docker 4 CPUs", "warn"),
                              Check("kind", False, "not installed", "install kind v0.33.0")])
    with pytest.raises(SystemExit) as done:
        main(["up", "--name", "s2"], target_factory=factory(fake))
    err = capsys.readouterr().err
    assert done.value.code == 3
    assert err.splitlines() == [
        "✗ docker daemon: not running (fix: start Docker)",
        "! cpus: 2 (fix: give Docker 4 CPUs)",
        "✗ kind: not installed (fix: install kind v0.33.0)",
        "error: the local target cannot start here: 2 prerequisite check(s) failed (listed above) "
        "(fix: fix them (appliance doctor --target local), or use --target local)",
    ]
    assert ("up", "s2", "standard", "None") not in fake.calls and RunDir("s2").load() is None


def test_status_env_and_down_find_the_stack_in_the_index(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeTarget()
    run(["up", "--name", "s3"], fake, capsys)
    code, out, _ = run(["status", "--name", "s3", "--json"], fake, capsys)
    assert code == 0 and json.loads(out)["components"][0]["name"] == "object-store"
    code, out, _ = run(["env", "--name", "s3"], fake, capsys)
    assert code == 0
    assert "export AWS_ACCESS_KEY_ID=fake-key\n" in out
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:9\n" in out
    fake.healthy = False
    code, _, err = run(["status", "--name", "s3"], fake, capsys)
    assert code == 1 and "error: stack 's3' is unhealthy: object-store failed the health probe" in err
    assert run(["down", "--name", "s3"], fake, capsys)[0] == 0
    assert fake.calls[-1] == ("down", "s3")
    code, _, err = run(["env", "--name", "s3"], fake, capsys)
    assert code == 2 and "no stack named 's3' is up" in err


def test_run_hands_the_loaded_pipeline_and_typed_arguments_to_the_engine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake = FakeTarget()
    run(["up", "--name", "s4"], fake, capsys)
    pipeline = tmp_path / "p.py"
    pipeline.write_text("from kfp import dsl\n\n@dsl.component\ndef echo(n: int) -> int:\n    return n\n\n"
                        "@dsl.pipeline(name='glue')\ndef glue(n: int = 1) -> None:\n    echo(n=n)\n")
    code, out, _ = run(["run", str(pipeline), "--param", "n=3", "--name", "s4"], fake, capsys)
    assert code == 0 and fake.pipelines.runs == [("glue", {"n": 3})]
    assert "SUCCEEDED" in out


def test_tune_hands_its_timeout_to_the_stacks_engine_and_a_timeout_exits_4(
    capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeTarget(name="kind")
    fake.tuning.times_out = True
    run(["up", "--name", "s6"], fake, capsys)
    experiment = Path(__file__).parents[2] / "conformance" / "experiments" / "grid.yaml"
    code, out, err = run(["tune", str(experiment), "--name", "s6", "--timeout", "90s"], fake, capsys)
    assert code == 4 and out == ""
    assert fake.tuning.runs == [("stub-grid", 90.0)]
    assert err.splitlines()[-1] == ("error: timed out after 90s waiting for experiment stub-grid: 0 of 3 "
                                    "trials done, 3 running (stopped) (fix: pass a larger --timeout)")


def test_a_stack_on_another_target_is_not_started_again_elsewhere(
    capsys: pytest.CaptureFixture[str]
) -> None:
    kind = FakeTarget(name="kind")
    run(["up", "--name", "s5"], kind, capsys)
    local = FakeTarget(name="local")
    code, _, err = run(["up", "--name", "s5", "--target", "local"], local, capsys)
    assert code == 2
    assert "error: stack 's5' is already up on the kind target" in err
    assert local.calls == []


def test_diagnose_writes_the_targets_collection(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake = FakeTarget()
    code, _, err = run(["diagnose", "--stack", "gone"], fake, capsys)
    assert code == 2 and "no stack named 'gone' is up: there is nothing to diagnose" in err
    run(["up", "--name", "s6"], fake, capsys)
    code, out, _ = run(["diagnose", "--stack", "s6", "-o", str(tmp_path / "diag")], fake, capsys)
    assert code == 0 and out == f"{tmp_path / 'diag' / 'summary.txt'}\n"
    assert fake.calls[-1] == ("collect_diagnostics", "s6")
    assert (tmp_path / "diag" / "summary.txt").read_text() == "stack s6\n"


def test_diagnose_defaults_to_a_timestamped_folder_kept_after_down(home: Path) -> None:
    from appliance.paths import diagnostics_dir

    assert diagnostics_dir("dev", now=0.0) == home / "diagnostics" / "dev-19700101T000000Z"
