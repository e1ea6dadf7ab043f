"""Benchmark: the local tuning engine against a plain Optuna loop running the same trainer processes.

Both sides run N trials of the stub trainer (`python -m stubs.train`, local dataset and model
files), P at a time, with Optuna's RandomSampler and the same seed, in the same process,
interleaved:

  optuna     study.optimize(objective, n_trials=N, n_jobs=P); the objective runs the trainer with
             subprocess.run and parses its last `accuracy=` line (the least a harness can do)
  appliance  LocalTuningEngine.run(experiment): Katib validation, trial rendering, process groups,
             output capture to files, Katib's TEXT collector, in-order reconciles, Katib status

Prints each side's median wall time and the ratio appliance/optuna; the goal is <= 1.2.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from appliance.targets.local.tuning.engine import LocalTuningEngine
from appliance.tuning.experiment import parse
from stubs import dataset

GOAL = 1.2
LAST_ACCURACY = re.compile(r"accuracy=([0-9.]+)")


def experiment(trials: int, parallel: int, sleep_ms: int, data: Path, out: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "bench"},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "accuracy",
                          "additionalMetricNames": ["loss"]},
            "algorithm": {"algorithmName": "random",
                          "algorithmSettings": [{"name": "random_state", "value": "1"}]},
            "parallelTrialCount": parallel,
            "maxTrialCount": trials,
            "parameters": [
                {"name": "lr", "parameterType": "double",
                 "feasibleSpace": {"min": "0.001", "max": "0.1", "distribution": "logUniform"}},
                {"name": "depth", "parameterType": "int", "feasibleSpace": {"min": "2", "max": "10"}},
            ],
            "trialTemplate": {
                "primaryContainerName": "train",
                "trialParameters": [{"name": "lr", "reference": "lr"},
                                    {"name": "depth", "reference": "depth"},
                                    {"name": "name", "reference": "${trialSpec.Name}"}],
                "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {
                    "backoffLimit": 0,
                    "template": {"spec": {"restartPolicy": "Never", "containers": [{
                        "name": "train",
                        "command": [sys.executable, "-m", "stubs.train"],
                        "args": ["--lr=${trialParameters.lr}", "--depth=${trialParameters.depth}",
                                 f"--sleep-ms={sleep_ms}", f"--data={data}",
                                 f"--out={out}/${{trialParameters.name}}.json"],
                    }]}},
                }},
            },
        },
    }


def run_engine(spec: dict[str, Any], work: Path) -> tuple[float, float]:
    started = time.perf_counter()
    result = LocalTuningEngine(work).run(parse(spec))
    elapsed = time.perf_counter() - started
    best = result.best["observation"]["metrics"][0]["max"]
    assert result.status["trialsSucceeded"] == spec["spec"]["maxTrialCount"], result.status
    return elapsed, float(best)


def run_optuna(trials: int, parallel: int, sleep_ms: int, data: Path, out: Path) -> tuple[float, float]:
    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 0.001, 0.1, log=True)
        depth = trial.suggest_int("depth", 2, 10)
        done = subprocess.run(
            [sys.executable, "-m", "stubs.train", f"--lr={lr}", f"--depth={depth}",
             f"--sleep-ms={sleep_ms}", f"--data={data}", f"--out={out}/{trial.number}.json"],
            capture_output=True, text=True, check=True,
        )
        return float(LAST_ACCURACY.findall(done.stdout)[-1])

    started = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=trials, n_jobs=parallel)
    return time.perf_counter() - started, study.best_value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--sleep-ms", type=int, default=20, help="trainer sleep per epoch (5 epochs)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-tuning-") as tmp:
        root = Path(tmp)
        data = root / "train.csv"
        data.write_bytes(dataset.generate("train", 1000, 7))
        spec = experiment(args.trials, args.parallel, args.sleep_ms, data, root / "models")
        (root / "models").mkdir()
        times: dict[str, list[float]] = {"optuna": [], "appliance": []}
        for round_ in range(args.repeat):
            # Interleaved, alternating which side goes first, so that load drifts hit both alike.
            sides = ["optuna", "appliance"] if round_ % 2 == 0 else ["appliance", "optuna"]
            for side in sides:
                if side == "optuna":
                    elapsed, best = run_optuna(args.trials, args.parallel, args.sleep_ms, data,
                                               root / "models")
                else:
                    elapsed, best = run_engine(spec, root / "work")
                times[side].append(elapsed)
                print(f"round {round_ + 1}: {side:<9} {elapsed:6.2f}s (best accuracy {best})",
                      flush=True)
    optuna_median = statistics.median(times["optuna"])
    engine_median = statistics.median(times["appliance"])
    ratio = engine_median / optuna_median
    print(f"{args.trials} trials, {args.parallel} at a time, trainer {5 * args.sleep_ms} ms of work")
    print(f"median wall time: optuna loop {optuna_median:.2f}s, appliance engine {engine_median:.2f}s")
    print(f"per trial: optuna {optuna_median / args.trials * 1000:.0f} ms, "
          f"appliance {engine_median / args.trials * 1000:.0f} ms")
    print(f"ratio appliance/optuna: {ratio:.2f} (goal <= {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
