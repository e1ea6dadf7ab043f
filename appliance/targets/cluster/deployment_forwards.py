"""Stable local ports for serving deployments on a cluster: one supervised port-forwarder per
deployment (the same `python -m appliance.targets.cluster.forward` the stack's own forwards use),
each configured in its own folder under the run dir so that one can come and go without touching
the others. `down` finds every one of them by the run dir on its command line."""

from __future__ import annotations

import re
import shutil
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
        known = self._process(folder).running()
        if known is not None:
            return int(known["port"])
        local = forward.choose_ports([name], {})[name]
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        forward.write_config(folder, self.settings.kubeconfig, self.settings.context,
                             [forward.ForwardSpec(name, namespace, service, port, local)])
        self._process(folder).start(forward.command(folder), folder / "forwarder.log", port=local)
        return local

    def running_port(self, name: str) -> int | None:
        """The local port of forward `name` when its forwarder runs; never starts one."""
        known = self._process(self._folder(name)).running()
        return int(known["port"]) if known is not None else None

    def remove(self, name: str) -> None:
        folder = self._folder(name)
        self._process(folder).stop()
        shutil.rmtree(folder, ignore_errors=True)
