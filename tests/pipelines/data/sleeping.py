"""A task that starts a child process of its own, says so in `flag`, then sleeps: for timeouts
and interrupts. The child's command line does not name the run (only its parent's does), and it
does not hold the task's output pipe, so only stopping the task's descendants ends it."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def nap(seconds: int, flag: str, job: str) -> int:
    import pathlib
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(float(sys.argv[1]))",
                              str(seconds), f"child-of-{job}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pathlib.Path(flag).write_text(str(child.pid))
    time.sleep(seconds)
    return seconds


@dsl.pipeline(name="sleeping")
def sleeping(seconds: int = 0, flag: str = "/dev/null") -> int:
    return nap(seconds=seconds, flag=flag, job=dsl.PIPELINE_JOB_ID_PLACEHOLDER).output
