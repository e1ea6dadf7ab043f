"""Run the conformance suite: pick the stack, run pytest on it, follow progress, collect results."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from appliance.conformance import areas as suite_areas
from appliance.conformance import invocation, report, results, stacks
from appliance.conformance.invocation import RunOptions
from appliance.conformance.results import ConformanceResult
from appliance.console import Console
from appliance.errors import BadInput, ExternalCommandFailed
from appliance.runtime.output import check_file

POLL_SECONDS = 0.2
# pytest's exit codes: 0 all passed, 1 some failed, 2 interrupted, 3 internal error,
# 4 usage error, 5 nothing collected.
_RAN = (0, 1)
_NOTHING_COLLECTED = 5
_USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR: arguments it does not accept


def run(options: RunOptions, console: Console) -> ConformanceResult:
    """Run the selected areas against the stack (started and stopped here when ephemeral).

    Writes no file: the caller writes the report and result.junit_xml (see appliance.runtime.output).
    """
    options.validate()
    # Bad output paths fail before anything starts, not after the whole run.
    if options.report is not None:
        report.format_for(options.report)
        check_file(options.report, "--report")
    if options.junitxml is not None:
        check_file(options.junitxml, "--junitxml")
    suite = suite_areas.suite_dir()
    selected = tuple(area.name for area in suite_areas.select(options.areas))
    missing = [
        f"area {area.name}: its test module {area.module} is missing from {suite}"
        for area in suite_areas.select(options.areas)
        if not (suite / area.module).is_file()
    ]
    with tempfile.TemporaryDirectory(prefix="appliance-conformance-") as tmp:
        events = Path(tmp) / "results.jsonl"
        log = Path(tmp) / "pytest.log"
        junit = Path(tmp) / "junit.xml"
        with stacks.use(options.target, options.stack, options.profile, console) as info:
            argv = invocation.pytest_argv(options, info, events, suite, junit)
            started = time.monotonic()
            code = _NOTHING_COLLECTED
            # Without a module to run, pytest would collect the whole directory instead.
            if invocation.modules(options, suite):
                console.debug("running: " + " ".join(argv))
                code = _pytest(argv, log, events, console)
            wall = time.monotonic() - started
        tests = results.read_events(events)
        problems: list[str] = list(missing)
        if code not in _RAN and invocation.modules(options, suite):
            output = _tail(log)
            if code == _USAGE_ERROR and not tests:
                # Arguments after `--` reach pytest as given: its refusal is the user's bad usage.
                raise BadInput("pytest refused the arguments", _usage_message(output),
                               "fix the pytest arguments after `--` (see `pytest --help`)")
            if code != _NOTHING_COLLECTED and not tests:
                raise ExternalCommandFailed(argv, output, f"pytest exit code {code}: the suite did not run")
            problems.append(f"pytest exit code {code}: {output.splitlines()[-1] if output else ''}")
        junit_xml = junit.read_text(encoding="utf-8") if junit.is_file() else None
    return ConformanceResult(
        target=info.target,
        stack=info.name,
        profile=info.profile,
        areas=selected,
        tests=tuple(tests),
        wall_seconds=round(wall, 3),
        problems=tuple(problems),
        junit_xml=junit_xml,
    )


def _usage_message(output: str) -> str:
    """pytest's own one-line complaint (`pytest: error: ...`), else its last output line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return (errors or lines or ["no output"])[-1]


def _pytest(argv: list[str], log: Path, events: Path, console: Console) -> int:
    """Run pytest; show one progress line per finished test; stop it cleanly on Ctrl-C."""
    with open(log, "wb") as output:
        # With -v the user sees pytest's own output live; otherwise it is kept for errors.
        sink = None if console.verbose else output
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        shown = 0
        try:
            while proc.poll() is None:
                shown = _progress(events, shown, console)
                time.sleep(POLL_SECONDS)
        except BaseException:
            _stop(proc)
            raise
        _progress(events, shown, console)
        console.end_progress()
        return proc.returncode


def _progress(events: Path, shown: int, console: Console) -> int:
    done = results.read_events(events)
    for test in done[shown:]:
        mark = {"passed": "✓", "failed": "✗", "skipped": "-"}[test.outcome]
        console.progress(f"[{len(done)}] {mark} {test.area}: {test.id} ({test.seconds:.1f}s)")
    return len(done)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Interrupt pytest like Ctrl-C does, and give it time to tear its fixtures down."""
    # From a terminal pytest got the same Ctrl-C (same process group); a second one would cut
    # its teardown short, so it is sent only when pytest is still running after a grace period.
    for signum, grace in ((None, 2.0), (signal.SIGINT, 30.0)):
        if signum is not None:
            proc.send_signal(signum)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
