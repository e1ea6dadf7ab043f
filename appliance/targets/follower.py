"""The registry follower process of every target: keeps a deployment serving the registry's champion.

`python -m appliance.targets.follower --stack NAME --model MODEL --interval S --run-dir DIR`

It opens stack NAME through the stack index (whichever target runs it) and runs the loop of
appliance/serving/follow.py until SIGTERM or until the stack's state is gone. SIGTERM ends the
loop between syncs, so a rollout in progress is finished, not cut. docs/serving.md states the
bound. With APPLIANCE_FOLLOW_TRACE=1 in its environment it also logs every registry read (tests
wait on it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from appliance.serving.follow import MODULE, follow
from appliance.serving.records import DEFAULT_INTERVAL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}",
                                     description="Keep a deployment serving the registry's champion.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    parser.add_argument("--run-dir", required=True, type=Path, help="the stack's run dir")
    args = parser.parse_args(argv)

    from appliance.gates.registry import Registry
    from appliance.targets import open_stack

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack = open_stack(args.stack)
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
