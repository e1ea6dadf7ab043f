"""`appliance gate evaluate` and `appliance registry show/rollback`: output and exit codes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.gates.registry import Entry, Registry
from appliance.stack import Stack

POLICY = (Path(__file__).parent / "default-policy.yaml").read_text(encoding="utf-8")
CHALLENGER = {"accuracy": 0.91, "latency_p99_ms": 12,
              "groups": {"a": {"accuracy": 0.93}, "b": {"accuracy": 0.89}}}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    paths = {
        "policy": tmp_path / "policy.yaml",
        "challenger": tmp_path / "challenger.json",
        "champion": tmp_path / "champion.json",
        "better": tmp_path / "better.json",
    }
    paths["policy"].write_text(POLICY)
    paths["challenger"].write_text(json.dumps(CHALLENGER))
    paths["champion"].write_text(json.dumps({"accuracy": 0.905}))
    paths["better"].write_text(json.dumps({"accuracy": 0.9}))
    return {k: str(v) for k, v in paths.items()}


def test_promote_exits_0_with_the_json_contract(capsys: pytest.CaptureFixture[str],
                                                files: dict[str, str]) -> None:
    code, out, _ = cli(capsys, "gate", "evaluate", "--policy", files["policy"], "--challenger",
                       files["challenger"], "--champion", files["better"], "--json")
    assert code == 0
    decision = json.loads(out)
    assert sorted(decision) == ["policy", "promote", "rules"]
    assert decision["promote"] is True
    assert [(r["rule"], r["metric"], r["verdict"]) for r in decision["rules"]] == [
        ("required", "accuracy", "pass"),
        ("threshold", "accuracy", "pass"),
        ("threshold", "latency_p99_ms", "pass"),
        ("fairness", "accuracy", "pass"),
        ("improvement", "accuracy", "pass"),
    ]


def test_reject_exits_1_and_names_the_rule(capsys: pytest.CaptureFixture[str],
                                           files: dict[str, str]) -> None:
    code, out, err = cli(capsys, "gate", "evaluate", "--policy", files["policy"], "--challenger",
                         files["challenger"], "--champion", files["champion"])
    assert code == 1
    assert out.splitlines()[-2:] == [
        "✗ improvement accuracy         improves accuracy by 0.005 (maximize; 0.905 -> 0.91), "
        "below minImprovement 0.01",
        "REJECT (policy default)",
    ]
    assert err == ("error: the gate rejected the challenger: failed rules: "
                   "improvement(accuracy)\n")


def test_without_champion_only_absolute_rules(capsys: pytest.CaptureFixture[str],
                                              files: dict[str, str]) -> None:
    code, out, _ = cli(capsys, "gate", "evaluate", "--policy", files["policy"],
                       "--challenger", files["challenger"])
    assert code == 0
    assert out.splitlines()[-1] == "PROMOTE (policy default)"
    assert "improvement" not in out


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], files: dict[str, str],
                           tmp_path: Path) -> None:
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text(POLICY.replace("min: 0.80", "min: high").replace("maximize", "up"))
    code, out, err = cli(capsys, "gate", "evaluate", "--policy", str(bad_policy),
                         "--challenger", files["challenger"])
    assert (code, out) == (2, "")
    assert err == (f"error: {bad_policy}: 2 problem(s)\n"
                   "  - spec.direction: expected one of maximize, minimize, got 'up'\n"
                   "  - spec.thresholds[0].min: expected a number, got 'high'\n"
                   "  fix: see docs/gates.md for the GatePolicy format\n")
    text = tmp_path / "m.json"
    text.write_text('{"accuracy": "high"}')
    code, _, err = cli(capsys, "gate", "evaluate", "--policy", files["policy"],
                       "--challenger", str(text))
    assert code == 2
    assert "  - accuracy: expected a number, got 'high'" in err
    text.write_text("not json")
    code, _, err = cli(capsys, "gate", "evaluate", "--policy", files["policy"],
                       "--challenger", str(text))
    assert code == 2
    assert err.startswith(f"error: {text} is not JSON: Expecting value")


def test_registry_show_and_rollback(local_stack: Stack,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    model = f"cli-{uuid.uuid4().hex[:8]}"
    registry = Registry(local_stack.object_store)
    registry.promote(model, Entry("v1", "s3://mlpipeline/m/v1.json", {"accuracy": 0.8}), None)
    registry.promote(model, Entry("v2", "s3://mlpipeline/m/v2.json", {"accuracy": 0.9}), None)

    code, out, _ = cli(capsys, "registry", "show", model, "--json", "--name", local_stack.name)
    assert code == 0
    shown = json.loads(out)
    assert shown["champion"]["entry"]["version"] == "v2"
    assert [(r["revision"], r["entry"]["version"]) for r in shown["history"]] == [(1, "v1"),
                                                                                  (2, "v2")]
    assert shown["decisions"] == []

    code, out, err = cli(capsys, "registry", "rollback", model, "--name", local_stack.name)
    assert code == 0
    assert out == f"{model} v1 s3://mlpipeline/m/v1.json\n"
    assert f"{model}: champion is v1 again (revision 3)" in err
    code, out, _ = cli(capsys, "registry", "show", model, "--name", local_stack.name)
    assert out.splitlines()[:2] == [f"model {model}: champion v1 (revision 3)",
                                    "  uri      s3://mlpipeline/m/v1.json"]
    assert out.splitlines()[-1] == "decisions: 0 (0 promote, 0 reject)"

    code, _, err = cli(capsys, "registry", "rollback", model, "--name", local_stack.name)
    assert code == 1
    assert f"cannot roll back {model}: revision 3 (v1) has no predecessor" in err
    code, _, err = cli(capsys, "registry", "show", "never-promoted", "--name", local_stack.name)
    assert code == 2
    assert "error: no model named 'never-promoted' in the registry of stack 'test'" in err
    code, out, err = cli(capsys, "registry", "rollback", "never-promoted", "--name",
                         local_stack.name)
    assert (code, out) == (2, "")
    assert err.startswith("error: cannot roll back never-promoted: it has no champion")

    key = registry.head_key(model)
    registry.objects.client.put_object(Bucket=registry.objects.bucket, Key=key, Body=b"garbage")
    for command in ("show", "rollback"):
        code, out, err = cli(capsys, "registry", command, model, "--name", local_stack.name)
        assert (code, out) == (1, "")
        assert err.startswith(f"error: registry object {key} is corrupt: not JSON")
        assert "Traceback" not in err
