"""One trial as local processes: the Job's retries and deadline, output capture, early stopping."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from appliance.tuning import metrics
from appliance.tuning.earlystopping import RuleWatcher, StopRule
from appliance.tuning.model import Collector, Objective
from appliance.tuning.template import ProcessSpec

STOP_GRACE_SECONDS = 5.0  # SIGTERM, then SIGKILL for the whole process group
FILE_POLL_SECONDS = 0.05

COMPLETE = "Complete"
FAILED = "Failed"


@dataclass(frozen=True)
class Outcome:
    """How the trial's Job ended, plus what its metrics collector saw."""

    job: str  # Complete | Failed (the batch Job condition)
    reason: str = ""
    message: str = ""
    early_stopped: bool = False
    metrics_text: str | None = None  # the collector's source (StdOut log or metrics file)
    attempts: int = 1
    log: str = ""


def trial_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every trial starts from: this one, the appliance's Python first on PATH,
    then `base` (e.g. the object store's credentials); the container's env comes on top."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    # Output reaches the collector line by line, so progress and early stopping see it live.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(base or {})
    return env


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class TrialRun:
    """Runs one trial's process(es) on a worker thread; `stop()` ends them and everything they spawned."""

    def __init__(
        self,
        name: str,
        spec: ProcessSpec,
        trial_dir: Path,
        collector: Collector,
        objective: Objective,
        rules: Sequence[StopRule],
        env: Mapping[str, str],
        on_done: Callable[[TrialRun], None] | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.trial_dir = trial_dir
        self.collector = collector
        self.objective = objective
        self.rules = list(rules)
        self.env = dict(env)
        self.on_done = on_done
        self.outcome: Outcome | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cut: int | None = None  # bytes of metrics source up to the early-stopping line
        self._thread = threading.Thread(target=self._run, name=f"trial-{name}", daemon=True)

    def start(self) -> None:
        self.trial_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the trial to end now (Ctrl-C): SIGTERM its process group; the worker escalates."""
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def _run(self) -> None:
        try:
            self.outcome = self._attempts()
        except Exception as exc:  # never lose a trial to an unexpected error: report it
            self.outcome = Outcome(FAILED, "LocalRunnerError", f"{type(exc).__name__}: {exc}")
        finally:
            self.finished = time.time()
            if self.on_done is not None:
                self.on_done(self)

    def _attempts(self) -> Outcome:
        deadline = None
        if self.spec.active_deadline_seconds is not None:
            deadline = time.monotonic() + self.spec.active_deadline_seconds
        attempts = self.spec.backoff_limit + 1
        last: Outcome | None = None
        for attempt in range(1, attempts + 1):
            outcome = replace(self._attempt(attempt, deadline), attempts=attempt)
            if outcome.job == COMPLETE or outcome.reason != "BackoffLimitExceeded":
                return outcome
            last = outcome
            if self._stop.is_set():
                break
        assert last is not None
        return last

    def _attempt(self, attempt: int, deadline: float | None) -> Outcome:
        attempt_dir = self.trial_dir / f"attempt-{attempt}"
        if attempt_dir.exists():
            shutil.rmtree(attempt_dir)
        attempt_dir.mkdir(parents=True)
        self._cut = None
        log_path = attempt_dir / "output.log"
        argv, env, metrics_file = self._localise(attempt_dir)
        cwd = self.spec.working_dir or str(self.trial_dir)
        if not Path(cwd).is_dir():
            return Outcome(FAILED, "StartError", f"workingDir {cwd} does not exist on this machine",
                           log=str(log_path))
        if self._stop.is_set():
            return Outcome(FAILED, "Stopped", "the experiment was interrupted", log=str(log_path))
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        except FileNotFoundError:
            return Outcome(FAILED, "StartError",
                           f'exec: "{argv[0]}": executable file not found in $PATH',
                           log=str(log_path))
        except PermissionError:
            return Outcome(FAILED, "StartError", f'exec: "{argv[0]}": permission denied',
                           log=str(log_path))
        except OSError as exc:
            return Outcome(FAILED, "StartError", f'exec: "{argv[0]}": {exc.strerror or exc}',
                           log=str(log_path))
        with self._lock:
            self._proc = proc
        if self._stop.is_set():
            _signal_group(proc.pid, signal.SIGTERM)
        watcher = self._watcher()
        early = threading.Event()
        state = {"deadline": False}
        waiter = threading.Thread(target=self._wait, args=(proc, deadline, state), daemon=True)
        waiter.start()
        tailer = None
        if watcher is not None and metrics_file is not None:
            tailer = threading.Thread(
                target=self._tail, args=(metrics_file, watcher, proc, early), daemon=True
            )
            tailer.start()
        stdout_watcher = watcher if metrics_file is None else None
        assert proc.stdout is not None
        written = 0
        with open(log_path, "wb") as log:
            for raw in proc.stdout:
                log.write(raw)
                written += len(raw)
                if stdout_watcher is not None and not early.is_set():
                    line = raw.decode("utf-8", errors="replace").rstrip("\n")
                    if stdout_watcher.feed_line(line):
                        self._cut = written
                        self._early_stop(proc, early)
        proc.stdout.close()
        waiter.join()
        if tailer is not None:
            tailer.join()
        with self._lock:
            self._proc = None
        text = self._metrics_text(log_path, metrics_file)
        if early.is_set():
            # Katib's sidecar reads the file after terminating the trainer, so lines printed in
            # between may or may not count; here the observation ends at the line that stopped
            # the trial, which keeps early-stopped observations deterministic.
            if text is not None and self._cut is not None:
                text = text.encode("utf-8")[: self._cut].decode("utf-8", errors="replace")
            return Outcome(COMPLETE, early_stopped=True, metrics_text=text, log=str(log_path))
        if self._stop.is_set():
            return Outcome(FAILED, "Stopped", "the experiment was interrupted", log=str(log_path))
        if state["deadline"]:
            return Outcome(FAILED, "DeadlineExceeded",
                           "Job was active longer than specified deadline", log=str(log_path))
        code = proc.returncode
        if code != 0:
            how = f"exited with code {code}" if code > 0 else f"was killed by signal {-code}"
            return Outcome(
                FAILED,
                "BackoffLimitExceeded",
                f"Job has reached the specified backoff limit (container "
                f"{self.spec.container.get('name', '')!r} {how}; see {log_path})",
                log=str(log_path),
            )
        return Outcome(COMPLETE, metrics_text=text, log=str(log_path))

    def _localise(self, attempt_dir: Path) -> tuple[list[str], dict[str, str], Path | None]:
        """argv and env, with a File collector's container path mapped into this attempt's dir."""
        argv = list(self.spec.argv)
        env = dict(self.env)
        container_env = dict(self.spec.env)
        metrics_file = None
        if self.collector.kind == "File":
            # Katib mounts a fresh volume at the file's directory in every pod; here each attempt
            # gets its own directory and the path is rewritten wherever the container passes it.
            metrics_file = attempt_dir / "fs" / self.collector.path.lstrip("/")
            metrics_file.parent.mkdir(parents=True, exist_ok=True)
            local = str(metrics_file)
            argv = [a.replace(self.collector.path, local) for a in argv]
            container_env = {k: v.replace(self.collector.path, local)
                             for k, v in container_env.items()}
        env.update(container_env)
        return argv, env, metrics_file

    def _watcher(self) -> RuleWatcher | None:
        if not self.rules:
            return None
        json_format = self.collector.kind == "File" and self.collector.format == "JSON"
        return RuleWatcher(
            self.rules,
            self.objective,
            metrics.compile_filters(self.collector.filters),
            json_format=json_format,
        )

    def _early_stop(self, proc: subprocess.Popen[bytes], early: threading.Event) -> None:
        # Katib's sidecar marks the trial early-stopped, then terminates the training process.
        early.set()
        _signal_group(proc.pid, signal.SIGTERM)

    def _wait(
        self, proc: subprocess.Popen[bytes], deadline: float | None, state: dict[str, bool]
    ) -> None:
        while True:
            timeout = 0.2
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            try:
                proc.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                pass
            if deadline is not None and time.monotonic() >= deadline and not state["deadline"]:
                state["deadline"] = True
                _signal_group(proc.pid, signal.SIGTERM)
            if self._stop.is_set() or state["deadline"]:
                self._escalate(proc)
                break
        # The container ends when its main process does: nothing it spawned may outlive it.
        _signal_group(proc.pid, signal.SIGKILL)

    def _escalate(self, proc: subprocess.Popen[bytes]) -> None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()

    def _tail(
        self, path: Path, watcher: RuleWatcher, proc: subprocess.Popen[bytes], early: threading.Event
    ) -> None:
        """Follow a File collector's metrics file while the trial runs, for early stopping."""
        offset = 0
        consumed = 0
        pending = b""
        while True:
            running = proc.poll() is None
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except FileNotFoundError:
                chunk = b""
            offset += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if early.is_set():
                    return
                consumed += len(raw) + 1
                if watcher.feed_line(raw.decode("utf-8", errors="replace")):
                    self._cut = consumed
                    self._early_stop(proc, early)
                    return
            if not running:
                return
            time.sleep(FILE_POLL_SECONDS)

    def _metrics_text(self, log_path: Path, metrics_file: Path | None) -> str | None:
        source = metrics_file if metrics_file is not None else log_path
        try:
            return source.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None
