"""Waiting with an injectable clock: every poll loop of the cluster targets goes through wait_for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

# TimedOut lives with the other errors (a local pipeline run times out too); the cluster's waits
# raise it from here.
from appliance.errors import TimedOut as TimedOut

# A check answers None when done, or a short text saying what is still awaited and why.
Check = Callable[[], str | None]
Progress = Callable[[str, float], None]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def listing(items: list[str], limit: int = 3) -> str:
    """`a, b, c and 15 more`: progress lines stay one readable line."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def wait_for(check: Check, *, what: str, timeout: float, interval: float, clock: Clock,
             on_progress: Progress | None = None, progress_every: float = 15.0) -> float:
    """Poll `check` every `interval` seconds until it answers None; returns the seconds waited.

    `on_progress(waiting, elapsed)` is called when the answer changes and at least every
    `progress_every` seconds while it does not. The check always runs once more at the
    deadline, so a timeout means "still not ready at the end", never "not looked at".
    """
    start = clock.monotonic()
    last_text: str | None = None
    last_report = start
    while True:
        waiting = check()
        now = clock.monotonic()
        elapsed = now - start
        if waiting is None:
            return elapsed
        if on_progress is not None and (waiting != last_text or now - last_report >= progress_every):
            on_progress(waiting, elapsed)
            last_report = now
        last_text = waiting
        if elapsed >= timeout:
            raise TimedOut(what, waiting, timeout)
        clock.sleep(min(interval, timeout - elapsed))
