"""Benchmark: per-task overhead of the appliance's pipeline runs against raw kfp.local.

Both sides run the same pipeline file, in the same process, interleaved, with kfp.local's
SubprocessRunner(use_venv=False):

  raw        kfp.local.init(...) then the imported @dsl.pipeline function, stdout to /dev/null
  appliance  LocalPipelinesEngine.run(FILE): load + type arguments + localize + run with per-task
             capture + build the PipelineRun (what `appliance run` does after start-up)

Pipelines: `lean` (install_kfp_package=False: both sides do exactly the same task work) and
`default` (plain @dsl.component: raw kfp.local pip-installs kfp before every task, the appliance
drops that no-op install). With --cli it also times `appliance run FILE` as a subprocess on a
throwaway local stack against `python RAW_SCRIPT` (both pay interpreter start-up).

Prints medians and the ratio appliance/raw; the goal for `lean` is <= 1.15.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TASKS = 6
PIPELINE = '''
from kfp import dsl


@dsl.component(base_image="python:3.11"{extra})
def step(x: int) -> int:
    print(f"step {{x}}")
    return x + 1


@dsl.pipeline(name="bench-{kind}")
def bench(x: int = 0) -> int:
    value = step(x=x)
    for _ in range({more}):
        value = step(x=value.output)
    return value.output
'''
RAW = '''
import contextlib, importlib.util, os, sys
from kfp import local
spec = importlib.util.spec_from_file_location("bench_raw", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
local.init(local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[2])
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    module.bench(x=0)
'''


def write_pipeline(folder: Path, kind: str) -> Path:
    extra = ", install_kfp_package=False" if kind == "lean" else ""
    path = folder / f"bench_{kind}.py"
    path.write_text(PIPELINE.format(extra=extra, kind=kind, more=TASKS - 1))
    return path


def raw_runner(path: Path, root: Path) -> Callable[[], None]:
    from kfp import local

    spec = importlib.util.spec_from_file_location(f"bench_raw_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run() -> None:
        local.init(local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            result = module.bench(x=0)
        assert result.output == TASKS, result.output

    return run


def appliance_runner(path: Path, root: Path) -> Callable[[], None]:
    from appliance.targets.local.pipelines.engine import LocalPipelinesEngine

    engine = LocalPipelinesEngine(root)

    def run() -> None:
        result = engine.run(path)
        assert result.succeeded and result.outputs == {"Output": TASKS}, result.error
        assert len(result.tasks) == TASKS

    return run


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def compare(name: str, raw: Callable[[], None], ours: Callable[[], None], repeat: int,
            per_task: bool = True) -> float:
    raw()  # warm-up: imports, page cache
    ours()
    raw_times, our_times = [], []
    for _ in range(repeat):  # interleaved, so load from other processes hits both sides alike
        raw_times.append(timed(raw))
        our_times.append(timed(ours))
    raw_median, our_median = statistics.median(raw_times), statistics.median(our_times)
    ratio = our_median / raw_median
    if per_task:
        detail = (f"per task raw {1000 * raw_median / TASKS:6.1f}ms  appliance "
                  f"{1000 * our_median / TASKS:6.1f}ms  overhead "
                  f"{1000 * (our_median - raw_median) / TASKS:+6.1f}ms/task")
    else:  # process start-up is paid once per invocation, not per task
        detail = f"overhead {our_median - raw_median:+6.3f}s per invocation"
    print(f"{name:<24} raw {raw_median:6.3f}s  appliance {our_median:6.3f}s  {detail}  "
          f"ratio {ratio:.3f}")
    return ratio


def cli(folder: Path, path: Path, repeat: int) -> float:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "APPLIANCE_HOME": str(folder / "home"), "NO_COLOR": "1"}
    appliance = str(bin_dir / "appliance")
    raw_script = folder / "raw.py"
    raw_script.write_text(RAW)
    subprocess.run([appliance, "-q", "up", "--name", "bench"], env=env, check=True)
    try:

        def raw() -> None:
            subprocess.run([sys.executable, str(raw_script), str(path), str(folder / "raw-root")],
                           env=env, check=True, stdout=subprocess.DEVNULL)

        def ours() -> None:
            subprocess.run([appliance, "-q", "run", str(path), "--name", "bench"], env=env,
                           check=True, stdout=subprocess.DEVNULL)

        return compare("cli processes", raw, ours, repeat, per_task=False)
    finally:
        subprocess.run([appliance, "-q", "down", "--name", "bench"], env=env, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cli", action="store_true", help="also time `appliance run` processes")
    args = parser.parse_args()
    print(f"{TASKS}-task linear pipeline, median of {args.repeat} interleaved runs each, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-pipelines-") as tmp:
        folder = Path(tmp)
        lean = write_pipeline(folder, "lean")
        default = write_pipeline(folder, "default")
        ratio = compare("lean (same task work)", raw_runner(lean, folder / "raw"),
                        appliance_runner(lean, folder / "ours"), args.repeat)
        compare("default components", raw_runner(default, folder / "raw"),
                appliance_runner(default, folder / "ours"), args.repeat)
        if args.cli:
            cli(folder, lean, args.repeat)
    verdict = "meets" if ratio <= 1.15 else "misses"
    print(f"lean ratio {ratio:.3f} {verdict} the goal of <= 1.15")
    return 0


if __name__ == "__main__":
    sys.exit(main())
