"""The local target: the stack as background processes on 127.0.0.1, state in one run dir."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.errors import BadInput, ExternalCommandFailed
from appliance.objectstore import DEFAULT_BUCKET, ObjectStore
from appliance.runtime import process
from appliance.runtime.locks import remove_stack_lock, stack_lock
from appliance.runtime.state import Component, RunDir, StackState
from appliance.stack import Stack
from appliance.stacks import profile_of
from appliance.targets.interface import Check, ComponentStatus, StackStatus, UpOptions
from appliance.targets.local.engines import ENGINES
from appliance.targets.local.s3_persistence import discard_all_but_objects

OBJECT_STORE = "object-store"
START_TIMEOUT = 60.0
BUCKETS = (DEFAULT_BUCKET,)


def marker(run_dir: RunDir) -> str:
    """Every process of a stack carries its run dir on its command line; down finds them by it."""
    return str(run_dir.path)


def stray_pids(run_dir: RunDir) -> list[int]:
    """Processes whose command line names this run dir (found even when the state is lost)."""
    return process.marked_pids(marker(run_dir))


class LocalTarget:
    name = "local"

    def preflight(self, profile: Profile | None = None, options: UpOptions | None = None) -> list[Check]:
        """Nothing beyond Python and the installed packages (doctor checks those for every target)."""
        return []

    def up(self, name: str, profile: Profile, options: UpOptions, console: Console) -> StackStatus:
        port = options.port
        run_dir = RunDir(name)
        with stack_lock(name):
            # A corrupt or foreign state file is an error here (unlike in `down`): starting over
            # it would orphan whatever the old state described.
            existing = run_dir.load()
            if existing is None and run_dir.exists() and stray_pids(run_dir):
                raise BadInput(
                    f"stack {name!r} has processes but no state file",
                    "a previous up was interrupted or its state was removed",
                    f"run 'appliance down --name {name}' to stop them, then 'appliance up' again",
                )
            if existing is not None:
                current = self.status(name)
                if current is not None and current.healthy:
                    self._check_same(existing, profile, port)
                    console.ok(f"stack {name!r} already up ({existing.target}, {existing.profile})")
                    return current
                console.info(f"stack {name!r} has stale state (a component died): cleaning up")
                self._teardown(run_dir, existing, keep_objects=True)
            if port is not None:
                process.check_port_free(port)
            return self._start(run_dir, profile, port, console)

    def _check_same(self, existing: StackState, profile: Profile, port: int | None) -> None:
        store = existing.components.get(OBJECT_STORE)
        conflicts = []
        if existing.profile != profile.name:
            conflicts.append(f"profile {existing.profile!r} (asked: {profile.name!r})")
        elif existing.profile_document not in (None, profile.to_document()):
            # Same name, other components or posture (e.g. a file named like a shipped profile).
            conflicts.append(f"another profile named {profile.name!r} (from {existing.profile_source})")
        if port is not None and store is not None and store.port != port:
            conflicts.append(f"port {store.port} (asked: {port})")
        if conflicts:
            raise BadInput(
                f"stack {existing.name!r} is already up with {', '.join(conflicts)}",
                "a running stack is not reconfigured in place",
                f"run 'appliance down --name {existing.name}' first, or pick another --name",
            )

    def _start(
        self, run_dir: RunDir, profile: Profile, port: int | None, console: Console
    ) -> StackStatus:
        run_dir.create()
        state = StackState(run_dir.name, self.name, profile.name, time.time(),
                           profile_document=profile.to_document(), profile_source=str(profile.source))
        # Written first so that an interrupted `up` leaves state that `down` can clean.
        run_dir.save(state)
        try:
            with console.step(f"object store (moto S3) on 127.0.0.1, buckets {', '.join(BUCKETS)}"):
                state.components[OBJECT_STORE] = self._start_object_store_retrying(run_dir, port)
                run_dir.save(state)
        except BaseException:
            self._teardown(run_dir, state, keep_objects=True)
            raise
        status = self.status(run_dir.name)
        assert status is not None
        return status

    def _start_object_store_retrying(self, run_dir: RunDir, port: int | None) -> Component:
        """A free port can be taken between choosing and binding it; then choose again."""
        attempts = 1 if port is not None else 3
        for attempt in range(attempts):
            try:
                return self._start_object_store(run_dir, port)
            except ExternalCommandFailed as exc:
                if attempt + 1 == attempts or "Address already in use" not in exc.output:
                    raise
                run_dir.credentials_file.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def _start_object_store(self, run_dir: RunDir, port: int | None) -> Component:
        chosen = port or process.free_port()
        argv = [
            sys.executable,
            "-m",
            "appliance.targets.local.s3_server",
            "--port",
            str(chosen),
            "--run-dir",
            marker(run_dir),
        ]
        for bucket in BUCKETS:
            argv += ["--bucket", bucket]
        log = run_dir.logs / "object-store.log"
        pid = process.spawn(argv, log)
        endpoint = f"http://127.0.0.1:{chosen}"

        def died() -> str | None:
            if process.is_alive(pid):
                return None
            return "the object store process exited"

        try:
            ready = process.wait_until(
                lambda: run_dir.credentials_file.exists() and process.port_in_use(chosen),
                START_TIMEOUT,
                abort=died,
            )
        except RuntimeError as exc:
            raise ExternalCommandFailed(argv, _tail(log), str(exc), f"see {log}") from exc
        if not ready:
            raise ExternalCommandFailed(
                argv, _tail(log), f"not ready after {START_TIMEOUT:.0f}s", f"see {log}"
            )
        return Component(OBJECT_STORE, pid, chosen, endpoint, time.time(), {"kind": "s3"})

    def status(self, name: str) -> StackStatus | None:
        run_dir = RunDir(name)
        state = run_dir.load()
        if state is None:
            return None
        now = time.time()
        components = []
        for component in state.components.values():
            alive = process.is_alive(component.pid, marker(run_dir))
            healthy, detail = (False, "process not running")
            if alive:
                healthy, detail = self._probe(run_dir, component)
            components.append(
                ComponentStatus(
                    component.name,
                    component.endpoint,
                    healthy,
                    detail,
                    component.pid,
                    now - component.started,
                    {k: v for k, v in component.extra.items() if k != "kind"},
                )
            )
        return StackStatus(
            state.name, state.target, state.profile, now - state.created, tuple(components)
        )

    def _probe(self, run_dir: RunDir, component: Component) -> tuple[bool, str]:
        kind = component.extra.get("kind")
        if kind == "s3":
            return self._object_store(run_dir, component).healthy()
        if kind == "http" and component.extra.get("health_url"):
            healthy, detail = probe_http(str(component.extra["health_url"]))
            # A component may describe itself (a deployment names its model and version).
            note = component.extra.get("note")
            return healthy, f"{detail}; {note}" if note else detail
        return True, "running"

    def _object_store(self, run_dir: RunDir, component: Component) -> ObjectStore:
        credentials = run_dir.load_credentials()
        return ObjectStore(
            endpoint=component.endpoint,
            access_key=credentials["access_key"],
            secret_key=credentials["secret_key"],
            region=credentials.get("region", "us-east-1"),
        )

    def down(self, name: str, console: Console, delete_crds: bool = False) -> bool:
        run_dir = RunDir(name)
        with stack_lock(name):
            if not run_dir.exists():
                remove_stack_lock(name)
                return False
            state = self._load_quietly(run_dir, console)
            self._teardown(run_dir, state)
            remove_stack_lock(name)
            return True

    def _load_quietly(self, run_dir: RunDir, console: Console) -> StackState | None:
        try:
            return run_dir.load()
        except BadInput as exc:
            console.info(f"warning: {exc.what}; cleaning up by process scan")
            return None

    def _teardown(self, run_dir: RunDir, state: StackState | None, keep_objects: bool = False) -> None:
        pids = {c.pid for c in state.components.values()} if state else set()
        pids.update(stray_pids(run_dir))
        for pid in sorted(pids):
            process.stop(pid, marker(run_dir))
        if keep_objects:  # a stale or failed stack being replaced: its next start restores them
            discard_all_but_objects(run_dir.path)
        else:
            run_dir.remove()

    def stack(self, name: str) -> Stack:
        run_dir = RunDir(name)
        state = run_dir.load()
        if state is None:
            raise BadInput(
                f"no stack named {name!r} is up",
                "",
                f"run 'appliance up --name {name}' first",
            )
        store = state.components.get(OBJECT_STORE)
        if store is None:
            raise BadInput(f"stack {name!r} has no object store", "its state is incomplete",
                           f"run 'appliance down --name {name}' and 'appliance up' again")
        return Stack(
            name=name,
            target=self.name,
            profile=profile_of(state),
            object_store=self._object_store(run_dir, store),
            run_dir=run_dir.path,
            engines=ENGINES,
        )

    def collect_diagnostics(self, name: str, out_dir: Path) -> list[Path]:
        """The stack's state file and every process log, copied as they are now."""
        run_dir = RunDir(name)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        sources = [run_dir.state_file, *sorted(run_dir.logs.glob("*.log"))] if run_dir.exists() else []
        for source in sources:
            if source.is_file():
                target = out_dir / source.name
                target.write_bytes(source.read_bytes())
                written.append(target)
        return written


def probe_http(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """A component that serves HTTP is healthy when its health URL answers 200."""
    import requests

    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return False, f"{type(exc).__name__}"
    if response.status_code == 200:
        return True, "ok"
    return False, f"health check answered {response.status_code}"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

