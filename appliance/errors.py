"""The one error hierarchy: every failure the user sees carries what, why, a fix and an exit code."""

from __future__ import annotations

# Exit codes are a documented contract (README, DESIGN.md "Output and errors").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_PREREQUISITE = 3
EXIT_EXTERNAL = 4


class ApplianceError(Exception):
    """A failure with a one-line explanation and a fix; rendered without a traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, what: str, why: str = "", fix: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.why = why
        self.fix = fix

    def render(self) -> str:
        parts = [self.what]
        if self.why:
            parts.append(self.why)
        line = ": ".join(parts)
        if self.fix:
            line += f" (fix: {self.fix})"
        return line


class CheckFailed(ApplianceError):
    """Findings or failed checks (exit 1)."""

    exit_code = EXIT_FAILED


class BadInput(ApplianceError):
    """Bad usage or a bad input file (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class InvalidDocument(BadInput):
    """A document with one or more problems, each with its field path (exit 2)."""

    def __init__(self, source: str, problems: list[str], fix: str = "") -> None:
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        what = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(what, "; ".join(self.problems), fix)

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  - {problem}" for problem in self.problems]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class MissingPrerequisite(ApplianceError):
    """Something the chosen target needs is absent (exit 3)."""

    exit_code = EXIT_PREREQUISITE


class ExternalCommandFailed(ApplianceError):
    """An external command or process failed; carries the command and its output (exit 4)."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, command: list[str] | str, output: str, why: str = "", fix: str = "") -> None:
        shown = command if isinstance(command, str) else " ".join(command)
        self.command = shown
        self.output = output
        super().__init__(f"command failed: {shown}", why, fix)

    def render(self) -> str:
        line = super().render()
        tail = "\n".join(self.output.strip().splitlines()[-20:])
        return f"{line}\n{tail}" if tail else line


DIAGNOSE_FIX = "run 'appliance diagnose' for events, pod states and logs"


class TimedOut(ApplianceError):
    """A wait ran out of time (exit 4, on every target); `waiting` is what it still waited for."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, what: str, waiting: str, seconds: float, fix: str = DIAGNOSE_FIX) -> None:
        super().__init__(f"timed out after {seconds:.0f}s waiting for {what}", waiting, fix)
        self.waiting = waiting
        self.seconds = seconds
