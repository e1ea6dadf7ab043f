"""The options of a conformance run and the pytest command line they become (pure)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from appliance.conformance import areas as suite_areas
from appliance.conformance.stacks import StackInfo
from appliance.errors import BadInput

PLUGIN = "conformance.plugin"
SUITE_NAME = "appliance-conformance"


MAX_WORKERS = 64  # xdist overflows on absurd counts; a laptop has far fewer cores


@dataclass(frozen=True)
class RunOptions:
    """What `appliance conformance` was asked to do."""

    target: str | None = None
    stack: str | None = None
    profile: str = "standard"
    areas: tuple[str, ...] = ()
    workers: int = 0
    junitxml: Path | None = None
    report: Path | None = None
    pytest_args: tuple[str, ...] = ()

    def validate(self) -> None:
        if not 0 <= self.workers <= MAX_WORKERS:
            raise BadInput(f"-n {self.workers}: not a worker count",
                           f"expected 0 to {MAX_WORKERS}", "use -n 0 (serial) or -n 2")
        suite_areas.select(self.areas)


def pytest_argv(
    options: RunOptions,
    stack: StackInfo,
    results: Path,
    suite: Path,
    junit: Path | None = None,
    python: str = sys.executable,
) -> list[str]:
    """`python -m pytest ...` for the selected areas against `stack`, recording into `results`.

    With --junitxml, pytest writes to `junit` (the runner's scratch file, copied to the user's
    path afterwards so that a failed write is reported, not claimed), else to options.junitxml.
    """
    argv = [
        python, "-m", "pytest",
        # The suite's own ini: the caller's project config must not change what the suite does.
        "-c", str(suite / "pytest.ini"), "--rootdir", str(suite),
        "-p", PLUGIN,
        "--target", stack.target,
        "--stack", stack.name,
        "--conformance-results", str(results),
        # A module that fails to import is a failed area, not a reason to skip the others.
        "--continue-on-collection-errors",
        "-q",
    ]
    if options.workers > 1:
        argv += ["-n", str(options.workers)]
    else:
        argv += ["-p", "no:xdist"]
    if options.junitxml is not None:
        argv += [f"--junitxml={junit or options.junitxml}", "-o", f"junit_suite_name={SUITE_NAME}"]
    argv += [str(path) for path in modules(options, suite)]
    argv += list(options.pytest_args)
    return argv


def modules(options: RunOptions, suite: Path) -> list[Path]:
    """The test modules of the selected areas that the installed suite has."""
    paths = [suite / area.module for area in suite_areas.select(options.areas)]
    return [path for path in paths if path.is_file()]
