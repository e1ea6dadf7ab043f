"""Deployments of one stack: deploy, roll out, roll back and delete, each recorded in state.json.

A deployment NAME is two processes, both recorded as components of the stack:

- `serve/NAME`: the front (appliance/targets/local/serving/front.py) on a port that never changes; its record
  holds the deployment (model URI, version, the previous model for rollback, v1/v2 URLs);
- `serve/NAME/model`: the current model server (the stub KServe server) on a port of its own.

A rollout starts the new server, waits until its model is ready, switches the front (config file
+ SIGHUP), waits until no request is in flight to the old server, then stops it: no request
fails. If the new server cannot load its model, nothing else is touched and the error carries
the server's output. Every process gets `--run-dir <run dir>` so that `down` finds it even when
the state is lost.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from appliance.console import Progress
from appliance.errors import BadInput, ExternalCommandFailed
from appliance.runtime import process
from appliance.runtime.state import Component, RunDir, StackState, write_atomic
from appliance.serving.endpoint import FRONT_STATUS_PATH, Endpoint
from appliance.serving.interface import RolloutFailed
from appliance.serving.records import Deployment, Follower, Health, ModelRef, ProcessFollower, validate_name

FRONT_ROLE = "serving-front"
MODEL_ROLE = "serving-model"
FOLLOWER_ROLE = "serving-follower"

ServerCommand = Callable[[str, str, int, str], list[str]]
StackLock = Callable[[], AbstractContextManager[object]]


def stub_server_command(name: str, model_uri: str, port: int, run_dir: str) -> list[str]:
    """The stub KServe model server (stubs/server.py) serving `model_uri` as model `name`."""
    return [sys.executable, "-m", "stubs.server", "--model-uri", model_uri, "--port", str(port),
            "--name", name, "--run-dir", run_dir]


def front_key(name: str) -> str:
    return f"serve/{name}"


def model_key(name: str) -> str:
    return f"serve/{name}/model"


def follower_key(name: str) -> str:
    return f"serve/{name}/follow"


@dataclass(frozen=True)
class LocalDeployment(Deployment):
    """A deployment on the local target: its front proxy and current model server processes."""

    front_pid: int
    front_port: int
    front_started: float
    model_pid: int
    model_url: str


class ServerFailed(ExternalCommandFailed, RolloutFailed):
    """A model server or front of a rollout did not come up: the rollout changed nothing."""


def _ref(extra: Mapping[str, Any], uri_key: str, version_key: str) -> ModelRef | None:
    uri = extra.get(uri_key)
    return ModelRef(str(uri), str(extra.get(version_key, ""))) if uri else None


def read_deployment(state: StackState, name: str) -> LocalDeployment | None:
    front = state.components.get(front_key(name))
    if front is None or front.extra.get("role") != FRONT_ROLE:
        return None
    model = state.components.get(model_key(name))
    extra = front.extra
    current = _ref(extra, "model_uri", "version")
    if current is None:
        return None
    return LocalDeployment(
        name=name,
        endpoint=Endpoint(name, front.endpoint),
        model=current,
        previous=_ref(extra, "previous_model_uri", "previous_version"),
        generation=int(extra.get("generation", 1)),
        front_pid=front.pid,
        front_port=front.port,
        front_started=front.started,
        model_pid=model.pid if model else 0,
        model_url=model.endpoint if model else "",
    )


def _front_status(port: int) -> dict[str, Any] | None:
    try:
        response = requests.get(f"http://{process.LOOPBACK}:{port}{FRONT_STATUS_PATH}", timeout=2.0)
        if response.status_code == 200:
            data = response.json()
            return data if isinstance(data, dict) else None
    except (requests.RequestException, ValueError):
        pass
    return None


def probe(url: str) -> Health:
    try:
        response = requests.get(url, timeout=2.0)
    except requests.RequestException as exc:
        return Health(False, type(exc).__name__)
    if response.status_code == 200:
        return Health(True, "ready")
    return Health(False, f"not ready (HTTP {response.status_code})")


_PORT_ATTEMPTS = 3


class _PortTaken(Exception):
    """The model server could not bind its port (taken since it was found free)."""


def _port_taken(output: str) -> bool:
    # uvicorn: "[Errno 98] ... address already in use"; the stub server: "port P ... is in use".
    text = output.lower()
    return "address already in use" in text or " is in use" in text


def _fresh(path: Path) -> Path:
    """`path`, or `path` numbered .2, .3... when taken: every attempt keeps its own log."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
    return candidate


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class Deployments:
    """The serving lifecycle of one stack. `lock` is the stack's state lock (shared with `down`)."""

    def __init__(
        self,
        run_dir: RunDir,
        lock: StackLock,
        describe: Callable[[str], ModelRef],
        env: Mapping[str, str],
        server_command: ServerCommand = stub_server_command,
        ready_timeout: float = 120.0,
        switch_timeout: float = 15.0,
        drain_timeout: float = 30.0,
    ) -> None:
        self.run_dir = run_dir
        self._lock = lock
        self._describe = describe
        self._env = dict(env)
        self._server_command = server_command
        self.ready_timeout = ready_timeout
        self.switch_timeout = switch_timeout
        self.drain_timeout = drain_timeout

    @property
    def marker(self) -> str:
        return str(self.run_dir.path)

    # -- reading -----------------------------------------------------------------------------

    def _state(self) -> StackState:
        state = self.run_dir.load()
        if state is None:
            raise BadInput(
                f"stack {self.run_dir.name!r} is not up",
                "it was stopped or never started",
                f"run 'appliance up --name {self.run_dir.name}'",
            )
        return state

    def get(self, name: str) -> LocalDeployment | None:
        return read_deployment(self._state(), validate_name(name))

    def require(self, name: str) -> LocalDeployment:
        found = self.get(name)
        if found is None:
            known = ", ".join(d.name for d in self.all()) or "none"
            raise BadInput(
                f"no deployment named {name!r} on stack {self.run_dir.name!r}",
                f"deployments: {known}",
                f"deploy it with 'appliance serve deploy {name} --model-uri URI'",
            )
        return found

    def all(self) -> list[Deployment]:
        state = self._state()
        names = sorted(c.extra["deployment"] for c in state.components.values()
                       if c.extra.get("role") == FRONT_ROLE and "deployment" in c.extra)
        return [d for d in (read_deployment(state, n) for n in names) if d is not None]

    def health(self, deployment: Deployment) -> Health:
        if not isinstance(deployment, LocalDeployment):
            found = self.get(deployment.name)
            if found is None:
                return Health(False, "not deployed")
            deployment = found
        if not process.is_alive(deployment.front_pid, self.marker):
            return Health(False, "front not running")
        if not process.is_alive(deployment.model_pid, self.marker):
            return Health(False, "model server not running")
        return probe(deployment.endpoint.ready_url)

    # -- lifecycle ---------------------------------------------------------------------------

    def deploy(self, name: str, model_uri: str, *, progress: Progress | None = None) -> LocalDeployment:
        """Create the deployment, or roll it out to `model_uri` when it exists. `progress` is not
        called: a local model server is ready in seconds."""
        validate_name(name)
        ref = self._describe(model_uri)
        with self._deployment_lock(name):
            current = self.get(name)
            if current is None:
                return self._create(name, ref)
            return self._rollout(current, ref)

    def rollout(self, name: str, model_uri: str, *, progress: Progress | None = None) -> LocalDeployment:
        self.require(name)
        return self.deploy(name, model_uri)

    def rollback(self, name: str, *, progress: Progress | None = None) -> LocalDeployment:
        """Roll out the previous model again (a second rollback returns to where it started)."""
        with self._deployment_lock(validate_name(name)):
            current = self.require(name)
            if current.previous is None:
                raise BadInput(
                    f"deployment {name!r} has no previous model to roll back to",
                    f"it has only served {current.model.uri}",
                    f"deploy another model with 'appliance serve deploy {name} --model-uri URI'",
                )
            return self._rollout(current, self._describe(current.previous.uri))

    def delete(self, name: str) -> None:
        # A follower would deploy it again on its next tick: it goes first, outside the lock it
        # may be holding for a rollout (it finishes that rollout before it exits).
        self.stop_follower(validate_name(name))
        with self._deployment_lock(name):
            current = self.require(name)
            # The front first: clients then see a refused connection, not a 502 from a live front.
            process.stop(current.front_pid, self.marker)
            process.stop(current.model_pid, self.marker)

            def forget(state: StackState) -> None:
                state.components.pop(front_key(name), None)
                state.components.pop(model_key(name), None)

            self._update(forget)
            self._config_path(name).unlink(missing_ok=True)

    # -- registry follower -------------------------------------------------------------------

    def follower(self, name: str) -> Component | None:
        found = self._state().components.get(follower_key(validate_name(name)))
        if found is not None and process.is_alive(found.pid, self.marker):
            return found
        return None

    def start_follower(
        self, name: str, interval: float, argv: list[str], env: Mapping[str, str]
    ) -> Follower:
        """Start the follower of `name` (appliance/targets/follower.py); a running one is restarted."""
        self.stop_follower(validate_name(name))
        log = self.run_dir.logs / f"serve-{name}-follow.log"
        pid = self._spawn(argv, log, env)
        component = Component(
            follower_key(name), pid, 0, f"registry/{name}", time.time(),
            {"kind": "process", "role": FOLLOWER_ROLE, "deployment": name, "interval": interval,
             "note": f"follows the registry champion of {name} every {interval:g}s"},
        )

        def add(state: StackState) -> None:
            state.components[component.name] = component

        try:
            self._update(add)
        except BaseException:
            process.stop(pid, self.marker)
            raise
        return ProcessFollower(name, interval, f"pid {pid}", pid)

    def stop_follower(self, name: str) -> bool:
        found = self._state().components.get(follower_key(name))
        if found is None:
            return False
        # Generous: a follower in the middle of a rollout finishes it before exiting.
        ran = process.stop(found.pid, self.marker, timeout=self.ready_timeout + self.drain_timeout)

        def forget(state: StackState) -> None:
            state.components.pop(follower_key(name), None)

        self._update(forget)
        return ran

    # -- steps -------------------------------------------------------------------------------

    def _create(self, name: str, ref: ModelRef) -> LocalDeployment:
        model = self._start_model(name, ref, generation=1)
        try:
            front = self._start_new_front(name, model.endpoint)
        except BaseException:
            process.stop(model.pid, self.marker)
            raise
        front.extra.update(self._record(name, front.endpoint, ref, None, 1))

        def add(state: StackState) -> None:
            state.components[front.name] = front
            state.components[model.name] = model

        try:
            self._update(add)
        except BaseException:
            process.stop(front.pid, self.marker)
            process.stop(model.pid, self.marker)
            raise
        deployment = self.get(name)
        assert deployment is not None
        return deployment

    def _rollout(self, current: LocalDeployment, ref: ModelRef) -> LocalDeployment:
        name = current.name
        generation = current.generation + 1
        model = self._start_model(name, ref, generation)
        try:
            front_pid, front_port, started = self._switch(current, model.endpoint, generation)
        except BaseException:
            process.stop(model.pid, self.marker)
            raise
        # Re-deploying the same URI keeps the rollback target instead of pointing it at itself.
        previous = current.model if current.model.uri != ref.uri else current.previous
        url = f"http://{process.LOOPBACK}:{front_port}"
        front = Component(front_key(name), front_pid, front_port, url, started,
                          self._record(name, url, ref, previous, generation))

        def replace(state: StackState) -> None:
            state.components[front.name] = front
            state.components[model.name] = model

        self._update(replace)
        self._drain(front_port, current.model_url)
        process.stop(current.model_pid, self.marker)
        deployment = self.get(name)
        assert deployment is not None
        return deployment

    def _switch(self, current: LocalDeployment, backend: str, generation: int) -> tuple[int, int, float]:
        """Point the front at `backend`; restart the front on its port if it died. Returns its pid, port."""
        name = current.name
        if not process.is_alive(current.front_pid, self.marker):
            port = current.front_port if not process.port_in_use(current.front_port) else process.free_port()
            front = self._start_front(name, port, backend, generation)
            return front.pid, front.port, front.started
        self._write_config(name, backend, generation)
        os.kill(current.front_pid, signal.SIGHUP)
        try:
            self._wait_front(current.front_pid, current.front_port, generation, self.switch_timeout,
                             self._front_log(name), f"front of {name!r} (pid {current.front_pid})")
        except BaseException:
            # Put the old backend back so the front does not follow a server that is being stopped.
            self._write_config(name, current.model_url, current.generation)
            if process.is_alive(current.front_pid, self.marker):
                os.kill(current.front_pid, signal.SIGHUP)
            raise
        return current.front_pid, current.front_port, current.front_started

    def _drain(self, front_port: int, old_backend: str) -> None:
        """Wait until the front has no request in flight to the old backend (bounded by drain_timeout)."""

        def drained() -> bool:
            status = _front_status(front_port)
            if status is None:
                return True  # the front is gone: nothing can be in flight through it
            return all(b.get("inflight", 0) == 0 for b in status.get("backends", [])
                       if b.get("url") == old_backend)

        process.wait_until(drained, self.drain_timeout, interval=0.02)

    def _start_model(self, name: str, ref: ModelRef, generation: int) -> Component:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                return self._try_start_model(name, ref, generation)
            except _PortTaken:
                # Another process took the free port between our probe and the server's bind.
                if attempt == _PORT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _try_start_model(self, name: str, ref: ModelRef, generation: int) -> Component:
        port = process.free_port()
        argv = self._server_command(name, ref.uri, port, self.marker)
        log = _fresh(self.run_dir.logs / f"serve-{name}-model-{generation}.log")
        pid = self._spawn(argv, log, self._env)
        url = f"http://{process.LOOPBACK}:{port}"
        ready_url = f"{url}/v2/models/{name}/ready"

        def died() -> str | None:
            return None if process.is_alive(pid) else "exited"

        try:
            try:
                ready = process.wait_until(lambda: probe(ready_url).healthy, self.ready_timeout,
                                           interval=0.05, abort=died)
            except RuntimeError:
                output = _tail(log)
                if _port_taken(output):
                    raise _PortTaken(port) from None
                raise ServerFailed(
                    argv, output,
                    f"the model server of {name!r} failed to load {ref.uri}: {_last_line(output)}",
                    f"fix the model artifact; see {log}",
                ) from None
            if not ready:
                raise ServerFailed(
                    argv, _tail(log),
                    f"the model server of {name!r} was not ready after {self.ready_timeout:.0f}s",
                    f"see {log}",
                )
        except BaseException:
            process.stop(pid, self.marker)
            raise
        extra = {"kind": "http", "health_url": ready_url, "role": MODEL_ROLE, "deployment": name,
                 **ref.to_dict(), "generation": generation, "note": f"version {ref.version}"}
        return Component(model_key(name), pid, port, url, time.time(), extra)

    def _start_new_front(self, name: str, backend: str) -> Component:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                return self._start_front(name, process.free_port(), backend, 1)
            except ExternalCommandFailed as exc:
                if attempt == _PORT_ATTEMPTS or not _port_taken(exc.output):
                    raise
        raise AssertionError("unreachable")

    def _start_front(self, name: str, port: int, backend: str, generation: int) -> Component:
        config = self._write_config(name, backend, generation)
        argv = [sys.executable, "-m",
            "appliance.targets.local.serving.front", "--name", name, "--port", str(port),
                "--config", str(config), "--run-dir", self.marker]
        log = self._front_log(name)
        # The front needs no credentials: it only forwards HTTP on loopback.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        pid = self._spawn(argv, log, env)
        try:
            self._wait_front(pid, port, generation, self.ready_timeout, log, " ".join(argv))
        except BaseException:
            process.stop(pid, self.marker)
            raise
        url = f"http://{process.LOOPBACK}:{port}"
        return Component(front_key(name), pid, port, url, time.time(), {})

    def _front_log(self, name: str) -> Path:
        return self.run_dir.logs / f"serve-{name}-front.log"

    def _wait_front(
        self, pid: int, port: int, generation: int, timeout: float, log: Path, command: str
    ) -> None:
        def switched() -> bool:
            status = _front_status(port)
            return status is not None and status.get("generation") == generation

        def died() -> str | None:
            return None if process.is_alive(pid) else "exited"

        try:
            ok = process.wait_until(switched, timeout, interval=0.02, abort=died)
        except RuntimeError:
            raise ServerFailed(command, _tail(log), f"the front proxy on port {port} exited",
                               f"see {log}") from None
        if not ok:
            raise ServerFailed(command, _tail(log),
                               f"the front proxy on port {port} did not reach generation "
                               f"{generation} in {timeout:.0f}s", f"see {log}")

    def _record(
        self, name: str, url: str, ref: ModelRef, previous: ModelRef | None, generation: int
    ) -> dict[str, Any]:
        endpoint = Endpoint(name, url)
        return {
            "kind": "http",
            "health_url": endpoint.ready_url,
            "role": FRONT_ROLE,
            "deployment": name,
            **ref.to_dict(),
            "previous_model_uri": previous.uri if previous else None,
            "previous_version": previous.version if previous else None,
            "generation": generation,
            "v1_url": endpoint.v1_url,
            "v2_url": endpoint.v2_url,
            "note": f"serves {ref.uri} version {ref.version}",
        }

    # -- state, files, processes --------------------------------------------------------------

    def _update(self, mutate: Callable[[StackState], None]) -> None:
        """Read-modify-write state.json under the stack lock (the CLI and tests act concurrently)."""
        with self._lock():
            state = self._state()
            mutate(state)
            self.run_dir.save(state)

    def _spawn(self, argv: list[str], log: Path, env: Mapping[str, str]) -> int:
        # Under the stack lock: `down` either ran before (the state is gone and we refuse) or runs
        # after and finds the process by its --run-dir marker. Nothing escapes it.
        with self._lock():
            self._state()
            return process.spawn(argv, log, dict(env))

    def _config_path(self, name: str) -> Path:
        return self.run_dir.path / "serving" / f"{name}.json"

    def _write_config(self, name: str, backend: str, generation: int) -> Path:
        path = self._config_path(name)
        write_atomic(path, json.dumps({"backend": backend, "generation": generation}) + "\n", mode=0o600)
        return path

    @contextmanager
    def _deployment_lock(self, name: str) -> Iterator[None]:
        """One lifecycle action per deployment at a time, across processes; other deployments proceed."""
        self._state()
        folder = self.run_dir.path / "serving"
        try:
            # parents=False: never resurrect a run dir that `down` just removed.
            folder.mkdir(mode=0o700, exist_ok=True)
            handle = open(folder / f".{name}.lock", "w")  # noqa: SIM115 (held across the yield)
        except FileNotFoundError:
            self._state()
            raise
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
