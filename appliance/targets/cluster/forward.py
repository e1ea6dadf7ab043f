"""Supervised port-forwards: stable 127.0.0.1 ports onto ready pods behind Services, moved to a new
pod when the forwarded one goes away (kubectl port-forward dies with its pod: kubectl#686)."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from appliance.errors import EXIT_BAD_INPUT, BadInput
from appliance.k8s.data import as_dict, as_list
from appliance.runtime.process import LOOPBACK, free_port
from appliance.runtime.state import write_atomic
from appliance.targets.cluster.client import ApiError, KubeClient, ObjRef
from appliance.targets.cluster.diagnosis import pod_is_ready
from appliance.targets.cluster.wait import Clock, SystemClock

Obj = dict[str, Any]
CONFIG_FILE = "forwards.json"
MODULE = "appliance.targets.cluster.forward"


@dataclass(frozen=True)
class ForwardSpec:
    """One stable local endpoint: 127.0.0.1:local_port -> a ready pod behind namespace/service:port."""

    name: str
    namespace: str
    service: str
    port: int | str  # the Service's port, by number or name
    local_port: int


class PortForward(Protocol):
    def alive(self) -> bool: ...

    def stop(self) -> None: ...


class PortForwardLauncher(Protocol):
    def start(self, namespace: str, pod: str, local_port: int, remote_port: int) -> PortForward: ...


def kubectl_argv(kubeconfig: Path, context: str, namespace: str, pod: str, local_port: int,
                 remote_port: int, kubectl: str = "kubectl") -> list[str]:
    """The one port-forward command: an explicit kubeconfig and context, loopback only."""
    return [kubectl, "port-forward", "--kubeconfig", str(kubeconfig), "--context", context,
            "-n", namespace, f"pod/{pod}", f"{local_port}:{remote_port}", "--address", LOOPBACK]


class _KubectlProcess:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class KubectlLauncher:
    """The real launcher: one `kubectl port-forward` child per forwarded pod (the only spawn here)."""

    def __init__(self, kubeconfig: Path, context: str, kubectl: str = "kubectl") -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.kubectl = kubectl

    def start(self, namespace: str, pod: str, local_port: int, remote_port: int) -> PortForward:
        argv = kubectl_argv(self.kubeconfig, self.context, namespace, pod, local_port, remote_port,
                            self.kubectl)
        # stdout/stderr inherited: the supervisor's own, which its spawner sends to a log file.
        return _KubectlProcess(subprocess.Popen(argv, stdin=subprocess.DEVNULL))


def container_port(service: Obj, pod: Obj, port: int | str) -> int | None:
    """The pod's port behind a Service port (number or name), resolving a named targetPort."""
    for entry in as_list(as_dict(service.get("spec")).get("ports")):
        entry = as_dict(entry)
        if port not in (entry.get("port"), entry.get("name")):
            continue
        target = entry.get("targetPort", entry.get("port"))
        if isinstance(target, int):
            return target
        for container in as_list(as_dict(pod.get("spec")).get("containers")):
            for declared in as_list(as_dict(container).get("ports")):
                if as_dict(declared).get("name") == target:
                    return int(declared["containerPort"])
        return None
    return None


def choose_pod(pods: Sequence[Obj]) -> Obj | None:
    """A Ready, non-terminating pod: the newest (as KFP's own forward script picks), then by name."""
    ready = [p for p in pods if pod_is_ready(p)]
    if not ready:
        return None
    return max(ready, key=lambda p: (str(as_dict(p.get("metadata")).get("creationTimestamp") or ""),
                                     str(as_dict(p.get("metadata")).get("name"))))


@dataclass
class _Active:
    pod: str
    process: PortForward


class Forwarder:
    """Keeps every ForwardSpec served. `tick()` is one supervision pass; `run()` loops on a clock."""

    def __init__(self, client: KubeClient, launcher: PortForwardLauncher, specs: Sequence[ForwardSpec],
                 clock: Clock, log: Callable[[str], None] = print) -> None:
        self.client = client
        self.launcher = launcher
        self.specs = list(specs)
        self.clock = clock
        self.log = log
        self.active: dict[str, _Active] = {}

    def _pod_still_good(self, spec: ForwardSpec, active: _Active) -> str | None:
        """None while the forwarded pod and process are fine; else why it must move."""
        if not active.process.alive():
            return "port-forward exited"
        pod = self.client.get(ObjRef("v1", "Pod", active.pod, spec.namespace))
        if pod is None:
            return f"pod {active.pod} is gone"
        if as_dict(pod.get("metadata")).get("deletionTimestamp"):
            return f"pod {active.pod} is terminating"
        if not pod_is_ready(pod):
            return f"pod {active.pod} is not ready"
        return None

    def _start(self, spec: ForwardSpec) -> None:
        service = self.client.get(ObjRef("v1", "Service", spec.service, spec.namespace))
        if service is None:
            self.log(f"{spec.name}: waiting for service {spec.namespace}/{spec.service}")
            return
        selector = {str(k): str(v) for k, v in as_dict(as_dict(service.get("spec")).get("selector")).items()}
        pod = choose_pod(self.client.list("v1", "Pod", spec.namespace, selector or None))
        if pod is None:
            self.log(f"{spec.name}: waiting for a ready pod behind {spec.namespace}/{spec.service}")
            return
        name = str(as_dict(pod.get("metadata")).get("name"))
        remote = container_port(service, pod, spec.port)
        if remote is None:
            self.log(f"{spec.name}: service {spec.namespace}/{spec.service} has no port {spec.port!r}")
            return
        process = self.launcher.start(spec.namespace, name, spec.local_port, remote)
        self.active[spec.name] = _Active(name, process)
        self.log(f"{spec.name}: {LOOPBACK}:{spec.local_port} -> {spec.namespace}/pod/{name}:{remote}")

    def tick(self) -> None:
        for spec in self.specs:
            try:
                active = self.active.get(spec.name)
                if active is not None:
                    why = self._pod_still_good(spec, active)
                    if why is None:
                        continue
                    self.log(f"{spec.name}: {why}; moving the forward")
                    active.process.stop()
                    del self.active[spec.name]
                self._start(spec)
            except ApiError as exc:
                # The API server restarting must not kill the supervisor; the next tick retries.
                self.log(f"{spec.name}: API error ({exc.message}); retrying")

    def run(self, should_stop: Callable[[], bool], interval: float = 1.0) -> None:
        try:
            while not should_stop():
                self.tick()
                self.clock.sleep(interval)
        finally:
            self.stop()

    def stop(self) -> None:
        for active in self.active.values():
            active.process.stop()
        self.active.clear()


# --- the run-dir config and the background entry point ------------------------------------------------


def choose_ports(names: Sequence[str], chosen: Mapping[str, int],
                 pick: Callable[[], int] = free_port) -> dict[str, int]:
    """A local port per forward: the ones chosen before are kept (env and status stay stable across
    `up` re-runs); new ones are free ports, never one already taken by another forward."""
    ports = {name: chosen[name] for name in names if name in chosen}
    for name in names:
        if name in ports:
            continue
        port = pick()
        while port in ports.values():
            port = pick()
        ports[name] = port
    return ports


def write_config(run_dir: Path, kubeconfig: Path, context: str, specs: Sequence[ForwardSpec]) -> Path:
    path = run_dir / CONFIG_FILE
    data = {"kubeconfig": str(kubeconfig), "context": context, "forwards": [asdict(s) for s in specs]}
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_config(run_dir: Path) -> tuple[Path, str, list[ForwardSpec]]:
    path = run_dir / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
        specs = [ForwardSpec(str(f["name"]), str(f["namespace"]), str(f["service"]),
                             f["port"] if isinstance(f["port"], int) else str(f["port"]),
                             int(f["local_port"])) for f in data["forwards"]]
        return Path(data["kubeconfig"]), str(data["context"]), specs
    except FileNotFoundError:
        raise BadInput(f"{path} not found", "the forwarder has no configuration",
                       "run 'appliance up' to write it") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path} is not a forwarder configuration", str(exc),
                       "run 'appliance down' and 'appliance up' again") from None


def command(run_dir: Path) -> list[str]:
    """How the target starts the supervisor in the background (with runtime.process.spawn)."""
    return [sys.executable, "-m", MODULE, "--run-dir", str(run_dir)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}",
                                     description="Keep the stack's port-forwards up until SIGTERM.")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--kubectl", default="kubectl")
    args = parser.parse_args(argv)
    try:
        kubeconfig, context, specs = read_config(args.run_dir)
        from appliance.targets.cluster.official import OfficialClient

        # Discovery is cached in the run dir, never beside a user's own kubeconfig (the kube target).
        client = OfficialClient.from_kubeconfig(kubeconfig, context, args.run_dir / "discovery-cache.json")
    except BadInput as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    forwarder = Forwarder(client, KubectlLauncher(kubeconfig, context, args.kubectl), specs, SystemClock(),
                          log=lambda text: print(text, flush=True))
    forwarder.run(lambda: bool(stopping))
    return 0


if __name__ == "__main__":
    sys.exit(main())
