"""Stable local ports for serving deployments on a cluster: one supervised port-forwarder per
deployment (the same `python -m appliance.targets.cluster.forward` the stack's own forwards use),
each configured in its own folder under the run dir so that one can come and go without touching
the others. `down` finds every one of them by the run dir on its command line."""

from __future__ import annotations

import fcntl
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.targets.cluster import forward
from appliance.targets.cluster.recorded import RecordedProcess
from appliance.targets.cluster.settings import ClusterSettings

RECORD = "forward.json"


class ProcessForwards:
    """Implements serving.Forwards with a background forwarder process per deployment."""

    def __init__(self, run_dir: Path, settings: ClusterSettings) -> None:
        self.run_dir = run_dir
        self.settings = settings

    def _folder(self, name: str) -> Path:
        return self.run_dir / "forwards" / re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")

    def _process(self, folder: Path) -> RecordedProcess:
        # The forwarder's --run-dir is its own folder: the marker that tells it from a reused pid.
        return RecordedProcess(folder / RECORD, str(folder))

    def ensure(self, name: str, namespace: str, service: str, port: int) -> int:
        folder = self._folder(name)
        # One at a time per forward, across processes: a command and a registry follower asking
        # for the same deployment's port at once would otherwise start two forwarders.
        with self._locked(folder):
            known = self._process(folder).running()
            if known is not None:
                return int(known["port"])
            local = forward.choose_ports([name], {})[name]
            folder.mkdir(exist_ok=True, mode=0o700)
            forward.write_config(folder, self.settings.kubeconfig, self.settings.context,
                                 [forward.ForwardSpec(name, namespace, service, port, local)])
            self._process(folder).start(forward.command(folder), folder / "forwarder.log", port=local)
            return local

    @contextmanager
    def _locked(self, folder: Path) -> Iterator[None]:
        # parents=False: a run dir that `down` removed is not brought back (the open fails).
        folder.parent.mkdir(exist_ok=True, mode=0o700)
        with open(folder.parent / f".{folder.name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def running_port(self, name: str) -> int | None:
        """The local port of forward `name` when its forwarder runs; never starts one."""
        known = self._process(self._folder(name)).running()
        return int(known["port"]) if known is not None else None

    def remove(self, name: str) -> None:
        folder = self._folder(name)
        self._process(folder).stop()
        shutil.rmtree(folder, ignore_errors=True)
        # The lock file stays (until `down` removes the run dir): unlinking it under a waiter
        # would let a later caller lock a new file beside it.
