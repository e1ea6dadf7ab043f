"""Serving on the local target: stub KServe model servers behind stable front proxies on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from appliance.runtime.locks import stack_lock
from appliance.runtime.state import RunDir
from appliance.serving.artifacts import describe, registry
from appliance.serving.engine import BackendServingEngine
from appliance.serving.follow import follower_command
from appliance.stack import Stack
from appliance.targets.local.serving.deployments import (
    Deployments,
    ServerCommand,
    stub_server_command,
)


def engine(stack: Stack, server_command: ServerCommand = stub_server_command) -> BackendServingEngine:
    run_dir = RunDir(stack.name, stack.run_dir.parent)
    store = stack.object_store
    # Model servers read s3:// artifacts with the stack's credentials, passed in the environment
    # (never on a command line, where `ps` would show them).
    env = {**os.environ, **store.env()}
    lock: Callable[[], Any] = partial(stack_lock, stack.name)
    deployments = Deployments(run_dir, lock, partial(describe, store), env, server_command)
    return BackendServingEngine(deployments, partial(registry, store),
                                partial(follower_command, stack.name, run_dir.path))
