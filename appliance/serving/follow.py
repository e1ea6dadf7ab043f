"""Serving follows the registry: the follower's loop, and the command that runs it as a process.

The follower is a background process on this machine for every target
(`python -m appliance.targets.follower`, which opens the stack through the stack index). Every S
seconds it reads the champion of MODEL and calls `sync`, which rolls deployment MODEL out when
the champion's model URI differs from the served one or the deployment is unhealthy: with no
failed request on the local target, as a KServe rollout on a cluster. A champion the deployment
cannot serve (RolloutFailed: it did not load, or never became ready) is not retried until the
registry points elsewhere; the previous model keeps serving and the error is logged.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from appliance.errors import ApplianceError
from appliance.gates.registry import CorruptObject, StoreUnreachable
from appliance.serving.interface import RolloutFailed

# The process entry point (a module of appliance.targets: it opens the stack by its target).
MODULE = "appliance.targets.follower"


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
        except RolloutFailed as exc:
            # Retrying the same champion every tick would only start doomed servers or pods.
            refused = uri
            log(f"{model}: champion {uri} was not deployed, the previous model keeps serving: {exc.render()}")
        except ApplianceError as exc:
            log(f"{model}: sync failed, retrying in {interval:g}s: {exc.render()}")
        except Exception as exc:  # the object store restarting must not end the follower
            log(f"{model}: registry unreachable, retrying in {interval:g}s: {type(exc).__name__}: {exc}")
        stop.wait(interval)


def follower_command(stack: str, run_dir: Path, model: str, interval: float, *,
                     keep_aws_env: bool = False) -> tuple[list[str], dict[str, str]]:
    """The follower's argv and environment. It finds its stack by name under the same
    APPLIANCE_HOME as this process; `--run-dir` on its command line is how `down` finds it, and
    how it notices the stack is gone. No secret is on the command line. The caller's AWS_*
    variables stay behind unless `keep_aws_env`: the follower reads the object store with the
    stack's own credentials, but a cluster's kubeconfig may authenticate through them (e.g. an
    `aws eks get-token` credential plugin)."""
    argv = [sys.executable, "-m", MODULE, "--stack", stack, "--model", model,
            "--interval", f"{interval:g}", "--run-dir", str(run_dir)]
    home = run_dir.parent.parent  # <home>/stacks/<name>
    env = {k: v for k, v in os.environ.items() if keep_aws_env or not k.startswith("AWS_")}
    return argv, {**env, "APPLIANCE_HOME": str(home)}
