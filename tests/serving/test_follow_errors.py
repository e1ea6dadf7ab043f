"""The follower loop names what went wrong: a corrupt champion record is not "registry unreachable"."""

from __future__ import annotations

import threading

from appliance.gates.registry import CorruptObject, StoreUnreachable
from appliance.serving.follow import follow


class NeverSynced:
    def sync(self, model: str) -> None:
        raise AssertionError("sync must not run when the champion cannot be read")


def logged_after_one_tick(error: Exception) -> list[str]:
    stop = threading.Event()
    lines: list[str] = []

    def champion() -> str | None:
        stop.set()  # one tick: the loop ends after this read
        raise error

    follow(NeverSynced(), champion, "churn", 0.0, stop, lambda: True, lines.append)
    return lines


def test_a_corrupt_champion_is_logged_as_corrupt() -> None:
    error = CorruptObject("registry object registry/churn/champion.json is corrupt", "not JSON",
                          "restore or delete the object")
    assert logged_after_one_tick(error) == [
        "churn: the registry's champion record is corrupt, retrying in 0s: registry object "
        "registry/churn/champion.json is corrupt: not JSON (fix: restore or delete the object)"]


def test_an_unreachable_store_is_logged_as_unreachable() -> None:
    error = StoreUnreachable("object store http://127.0.0.1:9 unreachable", "",
                             "appliance status / appliance up")
    assert logged_after_one_tick(error) == [
        "churn: registry unreachable, retrying in 0s: object store http://127.0.0.1:9 "
        "unreachable (fix: appliance status / appliance up)"]
