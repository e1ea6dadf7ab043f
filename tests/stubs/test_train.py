"""The stub trainer: the documented accuracy function, its optimum, Katib metrics, fault knobs."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stubs import dataset, model, train

# Katib's default StdOut TEXT filter (reference semantics §1.6), RE2 \w mimicked with re.ASCII.
KATIB_FILTER = re.compile(r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)", re.ASCII)


def test_documented_values() -> None:
    assert train.OPTIMUM == {"lr": 0.01, "depth": 6}
    assert train.accuracy_for(0.01, 6) == train.BEST_ACCURACY == 0.95
    assert train.accuracy_for(0.1, 6) == 0.665546  # one decade off: 0.5 + 0.45 / e
    assert train.accuracy_for(0.01, 10) == 0.665546
    assert train.accuracy_for(0.001, 2) == 0.560901


def test_the_optimum_is_the_unique_best_on_a_grid() -> None:
    grid = [(10 ** (e / 4), d) for e in range(-24, 1) for d in range(1, 17)]
    scores = {(round(lr, 8), d): train.accuracy_for(lr, d) for lr, d in grid}
    best = max(scores.values())
    assert best == 0.95
    assert [k for k, v in scores.items() if v == best] == [(0.01, 6)]


def test_smooth_and_monotone_away_from_the_optimum() -> None:
    lrs = [0.01 * 1.1**k for k in range(30)]
    along = [train.accuracy_for(lr, 6) for lr in lrs]
    assert all(a >= b for a, b in zip(along, along[1:], strict=False))
    assert all(abs(a - b) < 0.02 for a, b in zip(along, along[1:], strict=False))  # no jumps
    depths = [train.accuracy_for(0.01, d) for d in range(6, 30)]
    assert depths == sorted(depths, reverse=True)


def test_epoch_metrics_rise_to_the_final_accuracy() -> None:
    metrics = train.epoch_metrics(0.02, 5, epochs=4)
    # docs/stubs.md: final = round(0.5 + 0.45 * exp(-(x*x + y*y)), 6), x = log10(lr / 0.01),
    # y = (depth - 6) / 4; A_e = 0.5 + (final - 0.5)(1 - 2^-e)/(1 - 2^-E), L_e = 1 - A_e.
    final = round(0.5 + 0.45 * math.exp(-(math.log10(0.02 / 0.01) ** 2 + ((5 - 6) / 4) ** 2)), 6)
    assert final == train.accuracy_for(0.02, 5) == 0.886112
    documented = [round(0.5 + (final - 0.5) * (1 - 2.0**-e) / (1 - 2.0**-4), 6) for e in (1, 2, 3, 4)]
    assert documented == [0.705926, 0.80889, 0.860371, 0.886112]
    assert metrics == [(1, 0.705926, 0.294074), (2, 0.80889, 0.19111), (3, 0.860371, 0.139629),
                       (4, 0.886112, 0.113888)]


def test_train_returns_a_model_meeting_the_function(tmp_path: Path) -> None:
    artifact = train.train(0.003, 8, name="tuned", version="3")
    assert artifact == model.create("tuned", "3", train.accuracy_for(0.003, 8))


@pytest.mark.parametrize(
    ("lr", "depth", "epochs", "fragment"),
    [(0.0, 6, 5, "lr"), (float("inf"), 6, 5, "lr"), (0.01, 0, 5, "depth"), (0.01, 6, 0, "epochs")],
)
def test_bad_hyperparameters(lr: float, depth: int, epochs: int, fragment: str) -> None:
    with pytest.raises(model.BadStubInput, match=fragment):
        train.epoch_metrics(lr, depth, epochs)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stubs.train", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def data(tmp_path: Path) -> str:
    return dataset.write(str(tmp_path / "data.csv"), "train", 100, 1)


def test_cli_prints_katib_metrics_and_writes_the_model(tmp_path: Path, data: str) -> None:
    out = tmp_path / "model.json"
    done = run_cli("--lr=0.01", "--depth=6", "--epochs", "3", "--data", data, "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [train.format_metrics(*m) for m in train.epoch_metrics(0.01, 6, 3)]
    parsed = [{m[0]: m[1] for m in KATIB_FILTER.findall(line)} for line in lines]
    assert parsed[-1] == {"epoch": "3", "accuracy": "0.950000", "loss": "0.050000"}
    assert model.load(str(out)).accuracy == 0.95


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lr", "-1", "--depth", "6"], "lr=-1.0 is invalid"),
        (["--lr", "abc", "--depth", "6"], "invalid float value"),
        (["--lr", "0.01", "--depth", "6.5"], "'6.5' is not an integer"),
        (["--lr", "0.01"], "--depth"),
        (["--lr", "0.01", "--depth", "6", "--sleep-ms", "-5"], "--sleep-ms"),
    ],
)
def test_cli_bad_arguments_exit_2(data: str, tmp_path: Path, args: list[str], fragment: str) -> None:
    done = run_cli(*args, "--data", data, "--out", str(tmp_path / "m.json"))
    assert done.returncode == 2
    assert fragment in done.stderr
    assert not (tmp_path / "m.json").exists()


def test_cli_missing_data_fails_before_any_epoch(tmp_path: Path) -> None:
    done = run_cli("--lr", "0.01", "--depth", "6", "--data", str(tmp_path / "no.csv"), "--out", "m")
    assert done.returncode == 2 and done.stdout == "" and "no.csv: cannot read" in done.stderr


def test_fail_after_epoch(tmp_path: Path, data: str) -> None:
    out = tmp_path / "m.json"
    done = run_cli(
        "--lr", "0.1", "--depth", "6", "--fail-after-epoch", "2", "--data", data, "--out", str(out)
    )
    assert done.returncode == 1
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["epoch=1", "epoch=2"]
    assert "failing after epoch 2" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize(("fail_after", "sleeps"), [(None, [0.1, 0.1, 0.1]), ("2", [0.1, 0.1])])
def test_sleep_ms_sleeps_before_each_epoch(
    tmp_path: Path,
    data: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fail_after: str | None,
    sleeps: list[float],
) -> None:
    # In process, with the sleep recorded between the metric lines: no wall clock involved.
    events: list[str] = []
    real_format = train.format_metrics

    def record_epoch(epoch: int, accuracy: float, loss: float) -> str:
        events.append(f"epoch {epoch}")
        return real_format(epoch, accuracy, loss)

    monkeypatch.setattr(train, "_sleep", lambda seconds: events.append(f"sleep {seconds}"))
    monkeypatch.setattr(train, "format_metrics", record_epoch)
    argv = ["--lr", "0.01", "--depth", "6", "--epochs", "3", "--sleep-ms", "100"]
    argv += ["--data", data, "--out", str(tmp_path / "m.json")]
    argv += ["--fail-after-epoch", fail_after] if fail_after else []
    assert train.main(argv) == (1 if fail_after else 0)
    assert len(capsys.readouterr().out.splitlines()) == len(sleeps)
    assert events == [e for k, s in enumerate(sleeps, 1) for e in (f"sleep {s}", f"epoch {k}")]
    if fail_after is None:
        assert json.loads((tmp_path / "m.json").read_text())["accuracy"] == 0.95


def test_no_sleep_ms_never_sleeps(tmp_path: Path, data: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(train, "_sleep", slept.append)
    argv = ["--lr", "0.01", "--depth", "6", "--data", data, "--out", str(tmp_path / "m.json")]
    assert train.main(argv) == 0
    assert slept == []


@pytest.mark.parametrize(("fail_after", "epochs"), [("6", "5"), ("9", "5"), ("4", "3")])
def test_fail_after_epoch_beyond_the_last_epoch_is_refused(
    tmp_path: Path, data: str, fail_after: str, epochs: str
) -> None:
    out = tmp_path / "m.json"
    knobs = f"--lr 0.1 --depth 6 --epochs {epochs} --fail-after-epoch {fail_after}".split()
    done = run_cli(*knobs, "--data", data, "--out", str(out))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: --fail-after-epoch={fail_after} is after the last epoch (--epochs={epochs}): "
        f"use 0..{epochs}\n"
    )
    assert not out.exists()


def test_fail_after_the_last_epoch_fails_after_printing_every_epoch(tmp_path: Path, data: str) -> None:
    out = tmp_path / "m.json"
    knobs = "--lr 0.1 --depth 6 --epochs 3 --fail-after-epoch 3".split()
    done = run_cli(*knobs, "--data", data, "--out", str(out))
    assert done.returncode == 1
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["epoch=1", "epoch=2", "epoch=3"]
    assert "failing after epoch 3" in done.stderr and not out.exists()
