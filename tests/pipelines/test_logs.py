"""Per-task capture of kfp.local's stdout: threads kept apart, segments split, ANSI stripped."""

from __future__ import annotations

import threading
from itertools import count

from appliance.targets.local.pipelines.logs import TaskCapture, strip_ansi

CYAN, GREEN, RED, RESET = "\033[96m", "\033[92m", "\033[91m", "\033[0m"


def kfp_lines(capture: TaskCapture, name: str, body: list[str], status: str = "SUCCESS") -> None:
    """What kfp.local prints for one task, write call by write call."""
    color = GREEN if status == "SUCCESS" else RED
    capture.write(f"10:00:00.001 - INFO - Executing task {CYAN}'{name}'{RESET}\n")
    capture.write("10:00:00.002 - INFO - Streamed logs:\n\n")
    for line in body:
        capture.write("    ")  # kfp.local's indent: printed alone before each line
        capture.write(line + "\n")
    capture.write("    ")
    capture.write("\n\n")
    capture.write(f"10:00:00.003 - INFO - Task {CYAN}'{name}'{RESET} finished with status "
                  f"{color}{status}{RESET}\n")
    capture.write(f"10:00:00.004 - INFO - Task {CYAN}'{name}'{RESET} has no outputs\n")


def test_strip_ansi() -> None:
    assert strip_ansi(f"Task {CYAN}'a'{RESET} is {RED}FAILURE{RESET}\x1b[2K") == "Task 'a' is FAILURE"


def test_segments_keep_body_and_drop_kfp_indent() -> None:
    ticks = count()
    capture = TaskCapture(clock=lambda: float(next(ticks)))
    capture.write("10:00:00.000 - INFO - Running pipeline: 'p'\n")
    kfp_lines(capture, "train", ['{', '    "outputFile": "/r/p-1/train/executor_output.json"',
                                 "}", "  indented by the user"])
    kfp_lines(capture, "boom", ["Traceback (most recent call last):", '  File "x", line 1',
                                "ValueError: boom 2", "done"], status="FAILURE")
    capture.write("INFO - Task flaky cache hit (key=0123456789ab); skipping execution.\n")
    capture.close_segments()
    train, boom, cached = capture.segments
    assert (train.name, train.status, train.started, train.ended) == ("train", "SUCCESS", 0.0, 1.0)
    assert train.text == ('{\n    "outputFile": "/r/p-1/train/executor_output.json"\n}\n'
                          "  indented by the user")
    assert train.task_dir == "/r/p-1/train"
    assert (boom.status, boom.error()) == ("FAILURE", "ValueError: boom 2")
    assert (cached.name, cached.status, cached.cache_key) == ("flaky", "CACHED", "0123456789ab")
    assert capture.lines == [
        "10:00:00.000 - INFO - Running pipeline: 'p'",
        "10:00:00.004 - INFO - Task 'train' has no outputs",
        "10:00:00.004 - INFO - Task 'boom' has no outputs",
        "INFO - Task flaky cache hit (key=0123456789ab); skipping execution.",
    ]


def test_concurrent_tasks_do_not_interleave() -> None:
    capture = TaskCapture()
    barrier = threading.Barrier(3)

    def task(word: str) -> None:
        barrier.wait()
        # Unstamped markers: kfp.local's handler swap races and some lines reach ours.
        capture.write(f"INFO - Executing task '{word}'\n")
        for n in range(200):
            capture.write("    ")
            capture.write(f"{word} {n}\n")
        capture.write(f"INFO - Task '{word}' finished with status SUCCESS\n")

    threads = [threading.Thread(target=task, args=(w,)) for w in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    by_name = {s.name: s for s in capture.segments}
    assert sorted(by_name) == ["a", "b", "c"]
    for word, segment in by_name.items():
        assert segment.lines == [f"{word} {n}" for n in range(200)]
        assert segment.status == "SUCCESS"


def test_task_events_and_what_is_running_come_from_kfp_local_lines() -> None:
    events: list[tuple[str, str, list[str]]] = []
    capture = TaskCapture(on_task=lambda name, event: events.append((name, event, capture.running())))
    kfp_lines(capture, "train", ["training"])
    capture.write(f"10:00:01.000 - INFO - Executing task {CYAN}'boom'{RESET}\n")
    assert capture.running() == ["boom"]
    capture.write("    ")
    capture.write("about to fail\n")
    capture.write(f"10:00:01.001 - INFO - Task {CYAN}'boom'{RESET} finished with status "
                  f"{RED}FAILURE{RESET}\n")
    capture.write("INFO - Task flaky cache hit (key=0123456789ab); skipping execution.\n")
    assert events == [("train", "started", ["train"]), ("train", "SUCCESS", []),
                      ("boom", "started", ["boom"]), ("boom", "FAILURE", []), ("flaky", "CACHED", [])]
    assert capture.running() == []
