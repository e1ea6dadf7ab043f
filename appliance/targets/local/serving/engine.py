"""Serving on the local target: stub KServe model servers behind stable front proxies on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from appliance.errors import BadInput
from appliance.objectstore import ObjectStore
from appliance.runtime.locks import stack_lock
from appliance.runtime.state import RunDir
from appliance.serving.engine import BackendServingEngine
from appliance.stack import Stack
from appliance.targets.local.serving.deployments import (
    Deployments,
    ModelRef,
    ServerCommand,
    stub_server_command,
)


def read_bytes(store: ObjectStore, uri: str) -> bytes:
    """An artifact's bytes from the stack's object store (s3://) or a local path, errors naming it."""
    from stubs import uri as uris
    from stubs.errors import StubError

    try:
        if uris.is_s3(uri):
            bucket, key = uris.split_s3(uri)
            response = store.client().get_object(bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        return uris.local_path(uri).read_bytes()
    except StubError as exc:
        raise BadInput(f"cannot read model {uri}", exc.message,
                       "use s3://bucket/key or a local path") from exc
    except Exception as exc:  # S3Error, OSError, transport errors: all mean "cannot read"
        why = f"{getattr(exc, 'code', '') or type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        raise BadInput(f"cannot read model {uri}", why.splitlines()[0][:300],
                       "check the URI (appliance env; aws s3 ls) or upload the artifact") from exc


def describe(store: ObjectStore, uri: str) -> ModelRef:
    """The model's declared version; refuses what is not a stub model artifact before starting anything."""
    from stubs import model as stub_model
    from stubs.errors import StubError

    data = read_bytes(store, uri)
    try:
        artifact = stub_model.validate(json.loads(data), uri)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{uri} is not a model artifact", f"not JSON ({exc})",
                       "create one with 'python -m stubs.model create'") from exc
    except StubError as exc:
        raise BadInput(f"{uri} is not a valid model artifact", exc.message,
                       "create one with 'python -m stubs.model create'") from exc
    return ModelRef(uri, str(artifact["version"]))


def registry(store: ObjectStore) -> Any:
    from appliance.gates.registry import Registry

    return Registry(store)


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
