"""Console rules: status lines on stderr (silenced by -q), reports on stdout, colour only on a TTY."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

# A one-line progress report, as Console.progress takes it: what engines and long waits call.
Progress = Callable[[str], None]

_GREEN = "\033[32m"
_RED = "\033[31m"
_DIM = "\033[2m"
_RESET = "\033[0m"


class Console:
    """Writes human status to stderr and machine/human reports to stdout."""

    def __init__(
        self,
        quiet: bool = False,
        verbose: bool = False,
        err: TextIO | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self._err = err
        self._out = out

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def color(self) -> bool:
        if "NO_COLOR" in os.environ:
            return False
        return bool(getattr(self.err, "isatty", lambda: False)())

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def info(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.err, flush=True)

    def debug(self, message: str) -> None:
        if self.verbose and not self.quiet:
            print(self._paint(_DIM, message), file=self.err, flush=True)

    def ok(self, message: str, seconds: float | None = None) -> None:
        self.info(f"{self._paint(_GREEN, '✓')} {message}{_timing(seconds)}")

    def fail(self, message: str, seconds: float | None = None) -> None:
        self.info(f"{self._paint(_RED, '✗')} {message}{_timing(seconds)}")

    def error(self, message: str) -> None:
        # Errors are shown even with -q: silence must never hide why a command failed.
        print(f"{self._paint(_RED, 'error:')} {message}", file=self.err, flush=True)

    def report(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def progress(self, message: str) -> None:
        """A live line on a terminal (rewritten in place), plain lines elsewhere."""
        if self.quiet:
            return
        if self.color:
            self.err.write(f"\r\033[K{message}")
            self.err.flush()
        else:
            print(message, file=self.err, flush=True)

    def end_progress(self) -> None:
        if self.color and not self.quiet:
            self.err.write("\r\033[K")
            self.err.flush()

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        """Run a step and print ✓ or ✗ with its duration."""
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.fail(message, time.monotonic() - started)
            raise
        self.ok(message, time.monotonic() - started)


def _timing(seconds: float | None) -> str:
    return "" if seconds is None else f" ({seconds:.1f}s)"
