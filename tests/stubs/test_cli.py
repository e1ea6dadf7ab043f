"""The dataset and model command lines: the documented arguments, JSON output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stubs import dataset


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120)


def test_dataset_create_evaluate(tmp_path: Path) -> None:
    data, artifact = str(tmp_path / "d.csv"), str(tmp_path / "m.json")
    done = run("stubs.dataset", "--name", "demo", "--rows", "1000", "--seed", "7", "--out", data)
    assert (done.returncode, done.stdout) == (0, f"{data}\n")
    assert Path(data).read_bytes() == dataset.generate("demo", 1000, 7)
    done = run(
        "stubs.model",
        "create",
        "--name",
        "churn",
        "--version",
        "1",
        "--accuracy",
        "0.82",
        "--group-accuracy",
        "a=0.9",
        "--group-accuracy",
        "b=0.7",
        "--latency-ms",
        "3",
        "--fail-on-predict",
        "--out",
        artifact,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(Path(artifact).read_text())
    assert (document["accuracy"], document["group_accuracy"]) == (0.82, {"a": 0.9, "b": 0.7})
    assert (document["latency_ms"], document["fail_on_predict"], document["fail_on_load"]) == (3, True, False)
    run("stubs.model", "create", "--name", "churn", "--version", "1", "--accuracy", "0.83", "--out", artifact)
    done = run("stubs.model", "evaluate", "--model", artifact, "--data", data)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        '{"rows": 1000, "accuracy": 0.83, "groups": {"a": {"rows": 600, "accuracy": 0.83}, '
        '"b": {"rows": 400, "accuracy": 0.83}}}\n'
    )


def test_evaluate_a_fail_on_load_model_exits_1(tmp_path: Path) -> None:
    artifact = str(tmp_path / "m.json")
    run(
        "stubs.model",
        "create",
        "--name",
        "x",
        "--version",
        "1",
        "--accuracy",
        "0.5",
        "--fail-on-load",
        "--out",
        artifact,
    )
    data = dataset.write(str(tmp_path / "d.csv"), "d", 10, 1)
    done = run("stubs.model", "evaluate", "--model", artifact, "--data", data)
    assert done.returncode == 1 and "declares fail_on_load" in done.stderr


def test_bad_input_exits_2_with_a_one_line_reason(tmp_path: Path) -> None:
    cases = [
        (("stubs.dataset", "--name", "d", "--rows", "2", "--seed", "1", "--out", "x"), "rows=2"),
        (
            ("stubs.model", "create", "--name", "m", "--version", "1", "--accuracy", "2", "--out", "x"),
            "[0, 1]",
        ),
        (
            (
                "stubs.model",
                "create",
                "--name",
                "m",
                "--version",
                "1",
                "--accuracy",
                "0.5",
                "--group-accuracy",
                "a",
                "--out",
                "x",
            ),
            "GROUP=ACCURACY",
        ),
        (("stubs.model", "evaluate", "--model", str(tmp_path / "none.json"), "--data", "x"), "cannot read"),
    ]
    for argv, fragment in cases:
        done = run(*argv)
        assert done.returncode == 2, argv
        assert fragment in done.stderr and "Traceback" not in done.stderr


def test_group_accuracies_and_accuracy_must_agree(tmp_path: Path) -> None:
    artifact = str(tmp_path / "m.json")
    base = ("stubs.model", "create", "--name", "m", "--version", "1", "--out", artifact)
    groups = ("--group-accuracy", "a=0.95", "b=0.7")
    refused = run(*base, "--accuracy", "0.83", *groups)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        "error: accuracy 0.83 disagrees with group_accuracy a=0.95 b=0.7: their population-weighted "
        "mean (a 60%, b 40%) is 0.85; declare accuracy 0.85 or omit it\n"
    )
    assert not Path(artifact).exists()
    partial = run(*base, "--accuracy", "0.9", "--group-accuracy", "b=0.7")
    assert partial.returncode == 2
    assert partial.stderr.startswith("error: group_accuracy declares b but not a: declare every group")
    derived = run(*base, *groups)
    assert (derived.returncode, derived.stdout) == (0, f"{artifact}\n"), derived.stderr
    assert json.loads(Path(artifact).read_text())["accuracy"] == 0.85
    neither = run(*base)
    assert (neither.returncode, neither.stderr) == (
        2,
        "error: accuracy is missing: declare it, or declare group_accuracy for every group (a, b) "
        "and accuracy is derived from them\n",
    )
