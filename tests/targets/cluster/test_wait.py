"""wait_for on a virtual clock: polls, progress lines, the final check at the deadline."""

from __future__ import annotations

import pytest

from appliance.targets.cluster.wait import TimedOut, listing, wait_for


class VirtualClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_time_waited_once_the_check_passes() -> None:
    clock = VirtualClock()
    answers = iter(["0/1 ready", "0/1 ready", None])
    waited = wait_for(lambda: next(answers), what="x", timeout=60, interval=5, clock=clock)
    assert waited == 10
    assert clock.sleeps == [5, 5]


def test_progress_is_reported_on_change_and_every_period() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float]] = []
    answers = iter(["a"] * 8 + ["b", None])
    wait_for(lambda: next(answers), what="x", timeout=600, interval=5, clock=clock,
             on_progress=lambda text, elapsed: seen.append((text, elapsed)), progress_every=15)
    assert seen == [("a", 0), ("a", 15), ("a", 30), ("b", 40)]


def test_timeout_checks_once_more_at_the_deadline_and_names_what_waits() -> None:
    clock = VirtualClock()
    calls: list[float] = []

    def check() -> str:
        calls.append(clock.now - 100)
        return "kubeflow/mysql: 0/1 available"

    with pytest.raises(TimedOut) as caught:
        wait_for(check, what="mysql", timeout=12, interval=5, clock=clock)
    assert calls == [0, 5, 10, 12]
    assert caught.value.exit_code == 4
    assert caught.value.render() == (
        "timed out after 12s waiting for mysql: kubeflow/mysql: 0/1 available "
        "(fix: run 'appliance diagnose' for events, pod states and logs)")


def test_listing_keeps_progress_lines_short() -> None:
    assert listing(["a", "b"]) == "a, b"
    assert listing(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
