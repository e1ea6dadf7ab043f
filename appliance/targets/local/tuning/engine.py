"""The local tuning engine: Katib's reconcile loop over trials run as local processes.

Determinism: trials are reconciled in creation order. A trial that finishes early waits (as
Running) until every earlier trial is accounted for, and new suggestions are asked right after an
in-order reconcile. So with a fixed random_state every run asks the same questions in the same
order and gets the same trials, whatever the processes' timing; the price is an idle slot when an
early trial is much slower than the ones after it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import queue
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from appliance.errors import BadInput, TimedOut
from appliance.targets.local.tuning import limits
from appliance.targets.local.tuning.runner import FAILED as JOB_FAILED
from appliance.targets.local.tuning.runner import TrialRun, trial_environment
from appliance.tuning import experiment as experiments
from appliance.tuning import metrics, template
from appliance.tuning.algorithms import Suggester, SuggestionFailed
from appliance.tuning.earlystopping import MedianStop
from appliance.tuning.model import UNAVAILABLE, Experiment
from appliance.tuning.result import ExperimentResult, Progress
from appliance.tuning.status import (
    CREATED_REASON,
    EARLY_STOPPED,
    FAILED,
    FAILED_REASON,
    KILLED,
    MESSAGES,
    METRICS_UNAVAILABLE,
    RUNNING,
    RUNNING_REASON,
    SUCCEEDED,
    SUGGESTION_FAILED_MESSAGE,
    Conditions,
    Summary,
    TrialRecord,
    decide,
    experiment_status,
    summarize,
    timestamp,
)

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' random-suffix alphabet
EVENT_POLL_SECONDS = 0.5


def trial_name(experiment: str, index: int, taken: set[str]) -> str:
    """`<experiment>-<8 chars>` like Katib, derived from the index so reruns give the same names."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{experiment}/{index}/{salt}".encode()).digest()
        suffix = "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest[:8])
        name = f"{experiment}-{suffix}"
        if name not in taken:
            return name
        salt += 1


class LocalTuningEngine:
    """Runs Katib Experiments locally; trials get `env` (e.g. the object store's credentials)."""

    def __init__(self, work_root: Path, env: Mapping[str, str] | None = None) -> None:
        self.work_root = Path(work_root)
        self.env = dict(env or {})

    def run(
        self,
        experiment: Experiment | Mapping[str, Any] | str | Path,
        progress: Callable[[Progress], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> ExperimentResult:
        """Run to a terminal condition; with `timeout` (seconds, None: no limit, as Katib sets
        none) the running trials are stopped at the deadline and TimedOut is raised."""
        exp = self.admit(experiment)
        work = self.work_root / exp.name
        with _exclusive(self.work_root, exp.name):
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            session = _Session(exp, work, trial_environment(self.env), progress, timeout)
            result = session.run()
        (work / "experiment.json").write_text(json.dumps(result.document, indent=2) + "\n")
        (work / "trials.json").write_text(json.dumps(result.trials, indent=2) + "\n")
        return result

    def admit(self, experiment: Experiment | Mapping[str, Any] | str | Path) -> Experiment:
        """Katib's validation, the local target's refusals and the preflight (the trial command
        can start here), before anything is written: InvalidDocument (exit 2) lists every problem.
        An Experiment validated elsewhere (e.g. for a cluster) is admitted again from its manifest."""
        env = trial_environment(self.env)
        if isinstance(experiment, Experiment):
            validation = limits.validate(experiment.document(), f"experiment {experiment.name}", env)
        elif isinstance(experiment, Mapping):
            validation = limits.validate(dict(experiment), "<experiment>", env)
        else:
            validation = limits.validate(experiments.read(experiment), str(experiment), env)
        return validation.result()


@contextmanager
def _exclusive(root: Path, name: str) -> Iterator[None]:
    """One run of an experiment name per work root at a time (Katib: one object per name)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BadInput(
                f"experiment {name!r} is already running in {root}",
                "Katib runs one Experiment per name",
                "wait for it, or rename metadata.name",
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Session:
    """One run of one experiment: the controller's state between reconciles."""

    def __init__(
        self,
        exp: Experiment,
        work: Path,
        env: dict[str, str],
        progress: Callable[[Progress], None] | None,
        timeout: float | None = None,
    ) -> None:
        self.exp = exp
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.work = work
        self.env = env
        self.progress = progress
        self.trials: list[TrialRecord] = []
        self.runs: dict[str, TrialRun] = {}
        self.accounted = 0
        self.events: queue.Queue[str] = queue.Queue()
        self.conditions = Conditions()
        self.conditions.set("Created", "True", CREATED_REASON, MESSAGES[CREATED_REASON])
        self.start_time = timestamp()
        self.completion_time = ""
        self.completed = False
        self.suggester = Suggester(exp)
        self.tells: list[tuple[int, str]] = []
        self.median = MedianStop(exp.early_stopping, exp.objective) if exp.early_stopping else None
        self.summary: Summary = summarize([], exp)

    def run(self) -> ExperimentResult:
        try:
            self._reconcile()
            while self.accounted < len(self.trials):
                trial = self.trials[self.accounted]
                run = self.runs[trial.name]
                while not run.done:
                    self._check_deadline()
                    try:
                        self.events.get(timeout=EVENT_POLL_SECONDS)
                    except queue.Empty:
                        pass
                    self._emit()
                self._account(trial, run)
                self.accounted += 1
                self._reconcile()
        except BaseException:
            self._stop_all()
            raise
        return self._result()

    def _check_deadline(self) -> None:
        if self.deadline is None or time.monotonic() < self.deadline:
            return
        s = self.summary
        done = sum(s.count(c) for c in (SUCCEEDED, FAILED, KILLED, EARLY_STOPPED, METRICS_UNAVAILABLE))
        assert self.timeout is not None
        raise TimedOut(f"experiment {self.exp.name}",
                       f"{done} of {len(self.trials)} trials done, {s.active} running (stopped); "
                       f"trial logs in {self.work}",
                       self.timeout, fix="pass a larger --timeout, or lower spec.maxTrialCount")

    def _stop_all(self) -> None:
        """Ctrl-C or an error: every running trial's process group is ended before we leave."""
        for run in self.runs.values():
            run.stop()
        pending = list(self.runs.values())
        while pending:
            try:
                pending[0].join()
                pending.pop(0)
            except KeyboardInterrupt:
                # A second Ctrl-C does not abandon them: each escalates to SIGKILL within seconds.
                for run in pending:
                    run.stop()

    def _reconcile(self) -> None:
        self.summary = summarize(self.trials, self.exp)
        if not self.completed:
            decision = decide(self.summary, self.exp)
            if decision is None:
                self.conditions.set(RUNNING, "True", RUNNING_REASON, MESSAGES[RUNNING_REASON])
                self._create()
            else:
                self._complete(*decision)
        self.summary = summarize(self.trials, self.exp)
        self._emit()

    def _complete(self, kind: str, reason: str, message: str) -> None:
        if self.conditions.get(RUNNING) is None:
            self.conditions.set(RUNNING, "True", RUNNING_REASON, MESSAGES[RUNNING_REASON])
        self.conditions.falsify(RUNNING)
        self.conditions.set(kind, "True", reason, message)
        self.completion_time = timestamp()
        self.completed = True

    def _create(self) -> None:
        """ReconcileTrials: keep min(parallel, maxTrialCount - completed) trials active.

        Completed here excludes MetricsUnavailable, so such a trial gets a replacement even
        though it counts toward maxTrialCount when the experiment's completion is decided.
        """
        s = self.summary
        parallel = self.exp.parallel_trial_count
        done = s.count(SUCCEEDED) + s.count(FAILED) + s.count(KILLED) + s.count(EARLY_STOPPED)
        required = parallel
        if self.exp.max_trial_count is not None:
            required = min(parallel, self.exp.max_trial_count - done)
        for _ in range(max(0, required - s.active)):
            try:
                self._flush_tells()
                number, assignments = self.suggester.ask()
            except SuggestionFailed:
                self._complete(FAILED, FAILED_REASON, SUGGESTION_FAILED_MESSAGE)
                return
            self._start(number, assignments)

    def _flush_tells(self) -> None:
        # Katib feeds results back only when it asks for new suggestions.
        while self.tells:
            number, value = self.tells.pop(0)
            self.suggester.tell(number, value)

    def _start(self, number: int, assignments: tuple[tuple[str, str], ...]) -> None:
        index = len(self.trials)
        name = trial_name(self.exp.name, index, {t.name for t in self.trials})
        try:
            run_spec = template.render(self.exp, assignments, name)
            spec = template.process_spec(run_spec, self.exp.primary_container)
        except template.TemplateError as exc:
            raise BadInput(f"trial {name}: the trial template cannot be rendered", str(exc),
                           "check spec.trialTemplate and the parameters' values") from exc
        rules = tuple(self.median.rules()) if self.median else ()
        trial = TrialRecord(name, index, assignments, run_spec, rules, number)
        trial.mark_running()
        self.trials.append(trial)
        env = dict(self.env)
        env["KATIB_TRIAL_NAME"] = name
        run = TrialRun(
            name,
            spec,
            self.work / name,
            self.exp.collector,
            self.exp.objective,
            rules,
            env,
            on_done=lambda r: self.events.put(r.name),
        )
        self.runs[name] = run
        run.start()

    def _account(self, trial: TrialRecord, run: TrialRun) -> None:
        """The trial controller's view of a finished Job: conditions and observation."""
        outcome = run.outcome
        assert outcome is not None
        trial.log_path = outcome.log
        names = self.exp.objective.metric_names
        if outcome.job == JOB_FAILED:
            trial.finish(FAILED, _with("TrialFailed", "Job reason", outcome.reason),
                         _with("Trial has failed", "Job message", outcome.message))
            return
        missing = ""
        text = outcome.metrics_text
        if text is None:
            # Katib's sidecar would wait for the file forever; the local target reports it.
            missing = f"the metrics file {self.exp.collector.path} was not written"
            text = ""
        try:
            trial.logs = metrics.collect(text, self.exp.collector, names)
        except metrics.CollectorError as exc:
            trial.finish(FAILED, "TrialFailed. Job reason: MetricsCollectorError",
                         f"Trial has failed. Job message: metrics collector: {exc}")
            return
        trial.observation = metrics.observation(trial.logs, self.exp.objective)
        available = metrics.observation_available(trial.observation, self.exp.objective)
        if outcome.early_stopped:
            trial.finish(EARLY_STOPPED, "TrialEarlyStopped", "Trial is early stopped")
        elif available:
            trial.finish(SUCCEEDED, "TrialSucceeded", "Trial has succeeded")
        else:
            trial.finish(METRICS_UNAVAILABLE, "MetricsUnavailable",
                         _with("Metrics are not available", "Job message", missing))
        if trial.state in (SUCCEEDED, EARLY_STOPPED) and available:
            value = trial.objective_value(self.exp)
            if value != UNAVAILABLE:
                self.tells.append((trial.suggestion, value))
        if trial.state == SUCCEEDED and self.median is not None:
            self.median.record_succeeded(trial.name, trial.logs)

    def _emit(self) -> None:
        if self.progress is None:
            return
        s = self.summary
        finished = sum(1 for t in self.trials[self.accounted:] if self.runs[t.name].done)
        best = s.best
        condition = RUNNING
        for kind in (SUCCEEDED, FAILED):
            if self.conditions.is_true(kind):
                condition = kind
        self.progress(Progress(
            experiment=self.exp.name,
            condition=condition,
            trials=s.total,
            done=s.completed + finished,
            running=s.active - finished,
            succeeded=s.count(SUCCEEDED),
            failed=s.count(FAILED),
            early_stopped=s.count(EARLY_STOPPED),
            metrics_unavailable=s.count(METRICS_UNAVAILABLE),
            best_trial=best.name if best else "",
            best_value=best.objective_value(self.exp) if best else "",
            metric=self.exp.objective.metric,
        ))

    def _result(self) -> ExperimentResult:
        document = self.exp.document()
        document["status"] = experiment_status(
            self.conditions, self.summary, self.start_time, self.completion_time
        )
        return ExperimentResult(
            experiment=self.exp,
            document=document,
            trials=[trial.to_dict(self.exp) for trial in self.trials],
            work_dir=self.work,
        )


def _with(text: str, label: str, detail: str) -> str:
    """Katib's '<text>. Job reason: <detail>' suffix, only when there is a detail."""
    return f"{text}. {label}: {detail}" if detail else text
