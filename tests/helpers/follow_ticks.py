"""Drive the follower's loop (appliance/serving/follow.py) in this process, one registry read per tick."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from appliance.serving.follow import follow


def follow_ticks(engine: Any, registry: Any, model: str, ticks: list[Callable[[], Any]]) -> list[str]:
    """Run the loop with no interval for len(ticks) registry reads, calling ticks[i]() right before
    read i (promote, look at what is served, ...); returns the lines the loop logged."""
    pending = list(ticks)
    stop = threading.Event()
    lines: list[str] = []

    def champion_uri() -> str | None:
        pending.pop(0)()
        if not pending:
            stop.set()
        entry = registry.champion(model)
        return entry.model_uri if entry is not None else None

    follow(engine, champion_uri, model, 0.0, stop, lambda: True, lines.append)
    return lines
