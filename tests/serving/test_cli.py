"""`appliance serve ...` as glue: exit codes, stdout reports, stderr status, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main
from appliance.stack import Stack


@pytest.fixture
def run(local_stack: Stack, capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            main([*args, "--stack", local_stack.name])
        captured = capsys.readouterr()
        return int(done.value.code or 0), captured.out, captured.err

    return invoke


def test_deploy_predict_list_rollout_delete(
    run: Any, models: dict[str, str], samples: Any, tmp_path: Path
) -> None:
    code, out, err = run("serve", "deploy", "cli", "--model-uri", models["right"])
    assert code == 0, err
    assert "cli deployed: version 1" in err
    lines = out.splitlines()
    assert lines[0] == f"cli: {models['right']} (version 1)"
    assert lines[1].startswith("  v1 http://127.0.0.1:") and lines[1].endswith("/v1/models/cli:predict")
    assert lines[2].endswith("/v2/models/cli/infer")

    code, out, _ = run("serve", "predict", "cli", "--json", json.dumps(samples.v1()))
    assert (code, json.loads(out)) == (0, {"predictions": samples.right})
    body = tmp_path / "v2.json"
    body.write_text(json.dumps(samples.v2()))
    code, out, _ = run("serve", "predict", "cli", "--json", f"@{body}")
    assert code == 0 and json.loads(out)["outputs"][0]["data"] == samples.right

    code, out, _ = run("serve", "list", "--json")
    [row] = [r for r in json.loads(out) if r["name"] == "cli"]
    assert row == {
        "name": "cli", "model_uri": models["right"], "version": "1", "previous": None, "generation": 1,
        "url": lines[1].split()[1].rsplit("/v1/", 1)[0], "v1_url": lines[1].split()[1],
        "v2_url": lines[2].split()[1], "healthy": True, "detail": "ready",
    }
    code, out, _ = run("serve", "list")
    assert f"✓ cli              version 1          ready                    {models['right']}" in out

    code, out, err = run("serve", "rollback", "cli")
    assert code == 2 and out == ""
    assert "error: deployment 'cli' has no previous model to roll back to" in err

    code, out, err = run("serve", "deploy", "cli", "--model-uri", models["wrong"])
    assert code == 0 and "cli rolled out: version 2" in err
    code, out, _ = run("serve", "predict", "cli", "--json", json.dumps(samples.v1()))
    assert json.loads(out) == {"predictions": samples.wrong}

    code, _, err = run("serve", "delete", "cli")
    assert code == 0 and "deleted cli" in err
    code, out, _ = run("serve", "list", "--json")
    assert [r["name"] for r in json.loads(out) if r["name"] == "cli"] == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("serve", "predict", "absent", "--json", '{"instances": []}'), 2,
         "error: no deployment named 'absent' on stack"),
        (("serve", "predict", "absent", "--json", "{nope"), 2, "error: --json is not valid JSON"),
        (("serve", "predict", "absent", "--json", '{"instances": [NaN]}'), 2,
         "error: --json is not valid JSON: non-finite number NaN (fix: send finite numbers only "
         "(JSON has no NaN or Infinity))"),
        (("serve", "predict", "absent", "--json", '{"instances": [[1, -Infinity]]}'), 2,
         "error: --json is not valid JSON: non-finite number -Infinity"),
        (("serve", "predict", "absent", "--json", '{"instances": [1e999]}'), 2,
         "error: --json is not valid JSON: non-finite number 1e999"),
        (("serve", "predict", "absent", "--json", "@/nonexistent/body.json"), 2,
         "error: cannot read /nonexistent/body.json"),
        (("serve", "deploy", "x", "--model-uri", "s3://mlpipeline/serving/absent.json"), 2,
         "error: cannot read model s3://mlpipeline/serving/absent.json: NoSuchKey"),
        (("serve", "deploy", "Bad", "--model-uri", "s3://mlpipeline/x.json"), 2,
         "error: invalid deployment name 'Bad'"),
        (("serve", "sync", "nothing-promoted"), 2,
         "error: model 'nothing-promoted' has no champion in the registry"),
        (("serve", "follow", "x", "--interval", "0"), 2, "error: invalid interval 0s"),
    ],
)
def test_bad_input_exits_2_with_one_line(run: Any, args: tuple[str, ...], code: int, message: str) -> None:
    got, out, err = run(*args)
    assert (got, out) == (code, "")
    assert message in err
    assert "Traceback" not in err


def test_a_model_that_fails_to_load_exits_4_with_the_servers_error(run: Any, models: dict[str, str]) -> None:
    code, out, err = run("serve", "deploy", "broken", "--model-uri", models["broken"])
    assert (code, out) == (4, "")
    assert f"failed to load {models['broken']}: error: model clf version 4 declares fail_on_load" in err
    assert "Traceback" not in err
    code, out, _ = run("serve", "list", "--json")
    assert [r for r in json.loads(out) if r["name"] == "broken"] == []


def test_an_unknown_stack_is_named_with_the_fix(
    capsys: pytest.CaptureFixture[str], local_stack: Stack
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "list", "--stack", "nosuch"])
    assert done.value.code == 2
    assert "error: no stack named 'nosuch' is up (fix: run 'appliance up --name nosuch' first)" in (
        capsys.readouterr().err)
