"""Errors raised by the stubs; the stubs' CLIs turn them into one stderr line and an exit code."""

from __future__ import annotations

import sys


class StubError(Exception):
    """A stub refused its input or met a declared fault. `exit_code` follows the appliance's rules."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def report(self) -> int:
        """Print the stub CLIs' one stderr line (`error: <message>`); return the exit code."""
        print(f"error: {self.message}", file=sys.stderr)
        return self.exit_code


class BadStubInput(StubError):
    """Bad arguments, a malformed document or an unreadable location (exit code 2)."""

    exit_code = 2


class StubFault(StubError):
    """A fault the artifact or the command line declared on purpose (exit code 1)."""

    exit_code = 1
