"""Experiment (not a test, not a benchmark): how many trials the reference experiments need, per seed.

Runs conformance/experiments/{random,tpe,grid}.yaml through the local LocalTuningEngine with
random_state set to each seed, on a local copy of the stub dataset (models written to a temp
dir), and prints per seed the experiment's reason, its trial count (status.trials: the trial that
reached the goal plus those already running beside it, 3 in parallel) and the best point.
docs/tuning.md quotes its summary lines. The engine reconciles trials in creation order, so a
seed gives the same trials on any machine; only the wall time varies.

    python scripts/seed_sweep_tuning.py                  # random, tpe: seeds 0-24; grid: 0-9
    python scripts/seed_sweep_tuning.py --seeds 5 --grid-seeds 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.targets.local.tuning.engine import LocalTuningEngine  # noqa: E402 - after the path fix
from conformance import experiments as references  # noqa: E402
from stubs import dataset  # noqa: E402


def sweep(name: str, seeds: range, work: Path, data: Path) -> list[tuple[int, str, int, tuple[str, ...]]]:
    engine = LocalTuningEngine(work / "engine", {"PYTHONPATH": str(ROOT)})
    rows = []
    for seed in seeds:
        manifest = references.manifest(name, str(data), str(work / "models" / name / str(seed)),
                                       experiment_name=f"sweep-{name}-{seed}")
        settings = manifest["spec"]["algorithm"].setdefault("algorithmSettings", [])
        settings[:] = [s for s in settings if s["name"] != "random_state"]
        settings.append({"name": "random_state", "value": str(seed)})
        result = engine.run(manifest)
        found = result.best
        point = tuple(f"{a['name']}={a['value']}" for a in found["parameterAssignments"]) if found else ()
        rows.append((seed, result.condition["reason"], int(result.status["trials"]), point))
        print(f"{name:6} seed {seed:2}: {result.condition['reason']}, {result.status['trials']} trials, "
              f"best {' '.join(point)}", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=25, help="random and tpe: seeds 0..N-1")
    parser.add_argument("--grid-seeds", type=int, default=10, help="grid: seeds 0..N-1")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seed-sweep-") as tmp:
        work = Path(tmp)
        data = work / "train.csv"
        data.write_bytes(dataset.generate(**references.DATASET))  # type: ignore[arg-type]
        summary = []
        for name, count in (("random", args.seeds), ("tpe", args.seeds), ("grid", args.grid_seeds)):
            rows = sweep(name, range(count), work, data)
            reasons = sorted({reason for _, reason, _, _ in rows})
            trials = [n for _, _, n, _ in rows]
            points = sorted({" ".join(p) for *_, p in rows})
            best = f"best points {points}" if name == "grid" else f"{len(points)} distinct best points"
            summary.append(f"{name}: seeds 0-{count - 1}: reasons {reasons}; trials min {min(trials)}, "
                           f"max {max(trials)}; {best}")
    print()
    for line in summary:
        print(line)
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
