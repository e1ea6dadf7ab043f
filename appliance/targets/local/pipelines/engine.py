"""The local pipelines engine: KFP v2 pipelines through kfp.local's SubprocessRunner in this
interpreter (no per-task pip install), the stack's object store in every task's environment,
each task's log captured apart, kfp.local's process-global state restored after every run, and
the run supervised (progress, timeout, interrupt) from the caller's thread."""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from appliance.console import Progress
from appliance.errors import TimedOut
from appliance.pipelines import arguments as args
from appliance.pipelines import loader
from appliance.pipelines.interface import DEFAULT_TIMEOUT
from appliance.pipelines.model import CACHED, FAILED, SKIPPED, SUCCEEDED, PipelineRun, TaskRun
from appliance.targets.local.pipelines import imports
from appliance.targets.local.pipelines.localize import localize, task_names, with_job_id
from appliance.targets.local.pipelines.logs import CaptureHandler, Segment, TaskCapture, strip_ansi
from appliance.targets.local.pipelines.supervisor import Expired, Supervisor, stoppable
from appliance.targets.local.pipelines.values import delivered, whole_numbers

# kfp.local keeps its configuration in a process-global singleton and swaps sys.stdout-bound
# logging handlers and builtins.print while it runs: runs in one process take turns.
_RUN_LOCK = threading.Lock()
_FAILURE = "finished with status FAILURE"
_LOGGED_FAILURE = re.compile(r"ERROR - Task (?P<task>\S+) failed with exception: (?P<why>.*)$")
_STATES = {"SUCCESS": SUCCEEDED, "FAILURE": FAILED}


class LocalPipelinesEngine:
    """Runs pipelines under `root` (runs/<run-id>/ per run, cache/ shared by the stack)."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.root = root
        self.env = dict(env or {})
        self.timeout = timeout

    def run(
        self,
        pipeline: str | Path | loader.Pipeline,
        arguments: Mapping[str, Any] | None = None,
        *,
        caching: bool = False,
        retries: int | None = None,
        timeout: float | None = None,
        progress: Progress | None = None,
    ) -> PipelineRun:
        loaded = pipeline if isinstance(pipeline, loader.Pipeline) else loader.load(pipeline)
        typed = args.check(loaded, arguments or {})
        localized = localize(loaded.spec, env=self.env, retries=retries)
        spec, notes = self._with_imports(localized.spec, typed)
        return execute(spec, typed, self.root, caching=caching,
                       notes=(*localized.warnings, *notes),
                       timeout=timeout if timeout is not None else self.timeout, progress=progress)

    def _with_imports(self, spec: Any, typed: Mapping[str, Any]) -> tuple[Any, list[str]]:
        """The spec with importers of the stack's object store reading local copies."""
        found, notes = imports.store_imports(spec, typed)
        if not found:
            return spec, notes
        copies = imports.fetch(found, imports.store_from_env(self.env), self.root / "imports")
        notes += [f"task {item.task} imports {item.uri}: fetched from the stack's object store "
                  f"before the run, tasks read it from {copies[item.uri]}" for item in found]
        return imports.with_local_copies(spec, found, copies), notes


def execute(
    spec: Any,
    arguments: Mapping[str, Any],
    root: Path,
    *,
    caching: bool = False,
    notes: tuple[str, ...] = (),
    timeout: float | None = None,
    progress: Progress | None = None,
) -> PipelineRun:
    """Run an already localized spec with kfp.local and build the PipelineRun. Tasks see the
    run id as `dsl.PIPELINE_JOB_ID_PLACEHOLDER`, so what they key by it matches the report.
    `progress` hears of each task starting and ending; after `timeout` seconds (None: no limit)
    the run is stopped and TimedOut raised."""
    from kfp import local
    from kfp.local import pipeline_orchestrator

    run_id = uuid.uuid4().hex[:12]
    spec = with_job_id(spec, run_id)
    name = spec.pipeline_info.name
    pipeline_root = root / "runs" / run_id
    cache_root = root / "cache"
    pipeline_root.mkdir(parents=True, exist_ok=True)
    error = ""
    outputs: dict[str, Any] = {}
    raised: Exception | None = None
    # Every task's command line names its output files under the run's directory: the marker
    # that finds its processes. The run id alone, since a path may be escaped in the JSON.
    supervisor = Supervisor(f"/runs/{run_id}/", timeout=timeout, progress=progress,
                            label=f"pipeline {name}")

    def on_task(task: str, event: str) -> None:
        supervisor.note(f"pipeline {name}: task {task} {_STATES.get(event, event)}")

    with _RUN_LOCK, _isolated(on_task) as (capture, caught), _cluster_values(), \
            stoppable(supervisor.stopping):
        supervisor.running = capture.running
        local.init(
            local.SubprocessRunner(use_venv=False),
            pipeline_root=str(pipeline_root),
            raise_on_error=True,
            enable_caching=caching,
            cache_root=str(cache_root),
        )
        started = time.monotonic()
        try:
            # The spec is run directly: kfp's YAML component loader mistakes a compiled pipeline
            # for a single component when the pipeline is named like one of its components.
            outputs = _outputs(supervisor.run(
                lambda: pipeline_orchestrator.run_local_pipeline(spec, dict(arguments))))
        except Expired as expired:
            running = (f"running {', '.join(expired.running)}" if expired.running
                       else "no task running (between tasks, or in a retry back-off)")
            raise TimedOut(f"pipeline {name!r} (run {run_id}; its task processes were stopped)",
                           running, timeout or 0.0,
                           f"what the run wrote is under {pipeline_root}") from None
        except KeyboardInterrupt as exc:
            exc.add_note(f"pipeline {name!r}: run {run_id} stopped, its task processes ended")
            raise
        except RuntimeError as exc:
            error = strip_ansi(str(exc))
            if _FAILURE not in error:
                raised = exc
        except Exception as exc:  # kfp.local raises bare ValueErrors & co.; report, do not crash
            raised = exc
        duration = time.monotonic() - started
        capture.close_segments()
    broken = _orchestration_failures(capture.lines)
    if raised is not None:
        broken.append((_failing_task(raised), f"{type(raised).__name__}: {strip_ansi(str(raised))}"))
    if broken:
        # kfp.local's summary names only the outermost task; the cause is what the user needs.
        error = "; ".join(f"kfp.local failed at {task or 'the pipeline'}: {why}"
                          for task, why in broken)
    tasks = _tasks(capture.segments, task_names(spec), pipeline_root, cache_root, broken)
    failed = tuple(t.key for t in tasks if t.state == FAILED)
    return PipelineRun(
        run_id=run_id,
        pipeline=name,
        state=FAILED if error or failed else SUCCEEDED,
        arguments=dict(arguments),
        outputs=outputs,
        tasks=tasks,
        duration_seconds=duration,
        root=str(pipeline_root),
        error=error,
        failed_tasks=failed,
        warnings=tuple(dict.fromkeys([*notes, *caught, *_logged_warnings(capture.lines)])),
        log="\n".join(capture.lines),
    )


def _orchestration_failures(lines: list[str]) -> list[tuple[str, str]]:
    """(task, cause) for what failed inside kfp.local's orchestration rather than in a task's
    code: a ParallelFor iteration that raised is only logged (as an ERROR line), and the run's
    summary then names the iteration without the cause."""
    found = []
    for line in lines:
        logged = _LOGGED_FAILURE.search(line)
        if logged:
            found.append((logged["task"], logged["why"].strip()))
    return found


def _failing_task(exc: BaseException) -> str:
    """The innermost task kfp.local was handling when it raised ('' if none)."""
    found = ""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if str(frame.f_globals.get("__name__", "")).startswith("kfp.local"):
            name = frame.f_locals.get("task_name")
            if isinstance(name, str):
                found = name
    return found


@contextlib.contextmanager
def _isolated(on_task: Callable[[str, str], None] | None = None,
              ) -> Iterator[tuple[TaskCapture, list[str]]]:
    """Capture stdout per task; afterwards restore everything kfp.local changes globally."""
    from kfp.local import cache, config

    saved_config = config.LocalExecutionConfig.instance
    saved_print = builtins.print
    saved_stdout = sys.stdout
    logger = logging.getLogger()
    saved_handlers, saved_level = logger.handlers[:], logger.level
    capture = TaskCapture(on_task=on_task)
    caught: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            sys.stdout = capture
            logger.handlers[:] = [CaptureHandler(capture)]
            logger.setLevel(logging.INFO)
            try:
                yield capture, caught
            finally:
                caught.extend(str(w.message) for w in records
                              if not issubclass(w.category, DeprecationWarning | FutureWarning))
    finally:
        sys.stdout = saved_stdout
        builtins.print = saved_print
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)
        config.LocalExecutionConfig.instance = saved_config
        cache.reset_local_cache_singleton()


@contextlib.contextmanager
def _cluster_values() -> Iterator[None]:
    """While a run is in progress, kfp.local builds each task's input values (the executor input
    and the values its f-strings are resolved from) through `executor_input_to_dict`, the one
    place where it already corrects ints; values are delivered there as a cluster delivers them
    (see values.py). Restored afterwards, like the rest of kfp.local's global state."""
    from kfp.local import executor_input_utils
    from kfp.pipeline_spec import pipeline_spec_pb2

    original = executor_input_utils.executor_input_to_dict
    names = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name

    def as_on_a_cluster(executor_input: Any,
                        component_spec: pipeline_spec_pb2.ComponentSpec) -> dict[str, Any]:
        data: dict[str, Any] = original(executor_input, component_spec)
        inputs = data.get("inputs") or {}
        if inputs.get("parameterValues"):
            declared = {name: names(definition.parameter_type) for name, definition
                        in component_spec.input_definitions.parameters.items()}
            inputs["parameterValues"] = delivered(inputs["parameterValues"], declared)
        for listed in (inputs.get("artifacts") or {}).values():
            for artifact in listed.get("artifacts") or []:
                if artifact.get("metadata"):
                    artifact["metadata"] = whole_numbers(artifact["metadata"])
        return data

    executor_input_utils.executor_input_to_dict = as_on_a_cluster
    try:
        yield
    finally:
        executor_input_utils.executor_input_to_dict = original


def _logged_warnings(lines: list[str]) -> list[str]:
    """kfp.local's own warnings (an unresolvable condition is taken as False, for instance)."""
    return [line.split("WARNING - ", 1)[1] for line in lines if "WARNING - " in line]


def _outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline's outputs as JSON data. A double output stays a float; inside lists, dicts
    and artifact metadata whole numbers are ints, as a cluster reports them."""
    return {str(name): _plain(value) for name, value in outputs.items()}


def _plain(value: Any) -> Any:
    from kfp import dsl

    if isinstance(value, dsl.Artifact):
        return {"type": value.schema_title, "uri": value.uri,
                "metadata": whole_numbers(dict(value.metadata))}
    if isinstance(value, dict):
        return {str(k): whole_numbers(_plain(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [whole_numbers(_plain(v)) for v in value]
    return value


def _tasks(segments: list[Segment], names: list[str], pipeline_root: Path, cache_root: Path,
           broken: Sequence[tuple[str, str]] = ()) -> tuple[TaskRun, ...]:
    run_dirs = sorted(p for p in pipeline_root.iterdir() if p.is_dir() and p.name[0] != ".")
    run_dir = run_dirs[0].resolve() if run_dirs else None
    grouped: dict[str, list[Segment]] = {}
    for segment in segments:
        key = _key(segment, run_dir)
        if segment.status == "CACHED":
            # Cache hits have no directory; instances of one task (loop iterations) stay apart.
            base, count = key, 1
            while key in grouped:
                count += 1
                key = f"{base}#{count}"
        grouped.setdefault(key, []).append(segment)
    tasks = [_task(key, attempts, run_dir, cache_root) for key, attempts in grouped.items()]
    # A task kfp.local failed to run (or the loop iteration around it) never started: it is
    # FAILED with no attempt and kfp.local's cause, not SKIPPED.
    for name, why in broken:
        if name:
            key, count = name, 1
            while any(t.key == key for t in tasks):  # the same iteration of two outer iterations
                count += 1
                key = f"{name}#{count}"
            tasks.append(TaskRun(key, name, FAILED, 0, error=f"kfp.local: {why}"))
    seen = {t.name for t in tasks}
    tasks += [TaskRun(name, name, SKIPPED) for name in sorted(set(names) - seen)]
    return tuple(tasks)


def _key(segment: Segment, run_dir: Path | None) -> str:
    if segment.task_dir and run_dir is not None:
        with contextlib.suppress(ValueError):
            return Path(segment.task_dir).resolve().relative_to(run_dir).as_posix()
    return segment.name


def _task(key: str, attempts: list[Segment], run_dir: Path | None, cache_root: Path) -> TaskRun:
    last = attempts[-1]
    if last.status == "CACHED":
        return TaskRun(key, last.name, CACHED, 0, 0.0, _cached_outputs(cache_root, last.cache_key))
    state = SUCCEEDED if last.status == "SUCCESS" else FAILED
    ended = last.ended if last.ended is not None else time.monotonic()
    if len(attempts) == 1:
        log = last.text
    else:
        log = "\n".join(f"--- attempt {i} of {len(attempts)} ---\n{s.text}"
                        for i, s in enumerate(attempts, 1))
    outputs = {}
    if state == SUCCEEDED and run_dir is not None and last.task_dir is not None:
        outputs = _executor_outputs(Path(last.task_dir) / "executor_output.json")
    return TaskRun(key, last.name, state, len(attempts), ended - attempts[0].started, outputs,
                   log, last.error() if state == FAILED else "")


def _executor_outputs(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    outputs: dict[str, Any] = dict(data.get("parameterValues") or {})
    for name, listed in (data.get("artifacts") or {}).items():
        found = [{"uri": a.get("uri", ""), "metadata": a.get("metadata") or {}}
                 for a in listed.get("artifacts", [])]
        outputs[name] = found[0] if len(found) == 1 else found
    return outputs


def _cached_outputs(cache_root: Path, key: str | None) -> dict[str, Any]:
    if not key:
        return {}
    for path in sorted(cache_root.glob(f"{key}*.json")):
        with contextlib.suppress(OSError, json.JSONDecodeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            return {
                name: ({"uri": v.get("uri", ""), "metadata": v.get("metadata") or {}}
                       if isinstance(v, dict) and "schema_title" in v else v)
                for name, v in data.items()
            }
    return {}
