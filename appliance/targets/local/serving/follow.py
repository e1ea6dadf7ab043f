"""The registry follower: a background process that keeps a deployment serving the registry's champion.

`python -m appliance.targets.local.serving.follow --stack NAME --model MODEL --interval S --run-dir DIR`

Every S seconds it reads the champion of MODEL and calls `sync`, which rolls deployment MODEL out
(with no failed request) when the champion's model URI differs from the served one or the
deployment is unhealthy. So after a promotion, or a registry rollback, the new champion answers
new requests within S seconds plus a rollout's ready and switch waits (plus the rest of a rollout
already in progress; docs/serving.md states the bound). A champion that fails to load is not retried until the
registry points elsewhere: the previous model keeps serving and the error is logged.
With APPLIANCE_FOLLOW_TRACE=1 in its environment it also logs every registry read (tests wait on it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from appliance.errors import ApplianceError, ExternalCommandFailed
from appliance.gates.registry import CorruptObject, StoreUnreachable
from appliance.serving.records import DEFAULT_INTERVAL


class Syncer(Protocol):
    def sync(self, model: str) -> Any: ...


def follow(
    engine: Syncer,
    champion_uri: Callable[[], str | None],
    model: str,
    interval: float,
    stop: threading.Event,
    alive: Callable[[], bool],
    log: Callable[[str], None],
) -> None:
    """Sync until `stop` is set or the stack is gone (`alive` false)."""
    refused: str | None = None
    while not stop.is_set() and alive():
        uri: str | None = None
        try:
            uri = champion_uri()
            if uri is not None and uri != refused:
                result = engine.sync(model)
                refused = None
                if result.changed:
                    log(f"{model}: serving the champion {result.deployment.model.uri} "
                        f"(version {result.deployment.model.version})")
        except CorruptObject as exc:
            log(f"{model}: the registry's champion record is corrupt, retrying in {interval:g}s: "
                f"{exc.render()}")
        except StoreUnreachable as exc:
            log(f"{model}: registry unreachable, retrying in {interval:g}s: {exc.render()}")
        except ExternalCommandFailed as exc:
            # The champion would not load: retrying it every tick would only start doomed servers.
            refused = uri
            log(f"{model}: champion {uri} was not deployed, the previous model keeps serving: {exc.render()}")
        except ApplianceError as exc:
            log(f"{model}: sync failed, retrying in {interval:g}s: {exc.render()}")
        except Exception as exc:  # the object store restarting must not end the follower
            log(f"{model}: registry unreachable, retrying in {interval:g}s: {type(exc).__name__}: {exc}")
        stop.wait(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.targets.local.serving.follow",
                                     description="Keep a deployment serving the registry's champion.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    parser.add_argument("--run-dir", required=True, type=Path, help="the stack's run dir")
    args = parser.parse_args(argv)

    from appliance.gates.registry import Registry
    from appliance.targets.local.target import LocalTarget

    stop = threading.Event()
    # SIGTERM ends the loop between syncs, so a rollout in progress is finished, not cut.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack = LocalTarget().stack(args.stack)
    engine = stack.serving
    registry = Registry(stack.object_store)

    trace = os.environ.get("APPLIANCE_FOLLOW_TRACE") == "1"

    def log(message: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    def champion_uri() -> str | None:
        entry = registry.champion(args.model)
        uri = None if entry is None else str(entry.model_uri)
        if trace:  # off by default: one line per interval would grow the log without bound
            log(f"{args.model}: registry read, champion {uri}")
        return uri

    log(f"{args.model}: following the registry every {args.interval:g}s")
    follow(engine, champion_uri, args.model, args.interval, stop,
           lambda: (args.run_dir / "state.json").exists(), log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
