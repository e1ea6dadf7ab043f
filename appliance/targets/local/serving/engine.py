"""Serving on the local target: stub KServe model servers behind stable front proxies on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from appliance.runtime.locks import stack_lock
from appliance.runtime.state import RunDir
from appliance.serving.artifacts import describe, registry
from appliance.serving.engine import BackendServingEngine
from appliance.stack import Stack
from appliance.targets.local.serving.deployments import (
    Deployments,
    ServerCommand,
    stub_server_command,
)


def follower_command(run_dir: RunDir, model: str, interval: float) -> tuple[list[str], dict[str, str]]:
    """The follower finds its stack by name under the same APPLIANCE_HOME as this process."""
    argv = [sys.executable, "-m",
            "appliance.targets.local.serving.follow", "--stack", run_dir.name, "--model", model,
            "--interval", f"{interval:g}", "--run-dir", str(run_dir.path)]
    home = run_dir.path.parent.parent  # <home>/stacks/<name>
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return argv, {**env, "APPLIANCE_HOME": str(home)}


def engine(stack: Stack, server_command: ServerCommand = stub_server_command) -> BackendServingEngine:
    run_dir = RunDir(stack.name, stack.run_dir.parent)
    store = stack.object_store
    # Model servers read s3:// artifacts with the stack's credentials, passed in the environment
    # (never on a command line, where `ps` would show them).
    env = {**os.environ, **store.env()}
    lock: Callable[[], Any] = partial(stack_lock, stack.name)
    deployments = Deployments(run_dir, lock, partial(describe, store), env, server_command)
    return BackendServingEngine(deployments, partial(registry, store), partial(follower_command, run_dir))
