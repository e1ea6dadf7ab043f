"""What a cluster stack (kind or kube) records at `up` and its engines read: where the cluster is,
how to reach it, and the local ports forwarded to its services.

Kept in the run dir's state.json under `settings` (StackState.settings), written by the target's
`up` and read by every engine factory, so an engine needs nothing but the Stack handle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import BadInput

# The namespace the bundle's workload namespace has (profiles/catalog.yaml): trials, predictors.
WORKLOAD_NAMESPACE = "appliance-workloads"
# Local forwards every cluster stack keeps: the object store (MinIO) and the KFP API.
OBJECT_STORE = "object-store"
PIPELINES_API = "pipelines-api"


@dataclass(frozen=True)
class Service:
    """A Service in the cluster that a local port forwards to."""

    namespace: str
    name: str
    port: int


# What each forward points at in the rendered bundle (profiles/components/object-store.yaml, KFP).
FORWARDED = {
    OBJECT_STORE: Service("object-store", "minio", 9000),
    PIPELINES_API: Service("kubeflow", "ml-pipeline", 8888),
}


@dataclass(frozen=True)
class ClusterSettings:
    kubeconfig: Path  # mode 0600, in the run dir (kind) or the user's file (kube, never written)
    context: str
    cluster: str = ""  # kind's cluster name; empty on kube
    stubs_image: str = "appliance-stubs:dev"
    workload_namespace: str = WORKLOAD_NAMESPACE
    ports: dict[str, int] = field(default_factory=dict)  # forward name -> local port on 127.0.0.1
    forwarder_pid: int = 0
    namespaces: tuple[str, ...] = ()  # the namespaces the stack owns (diagnostics, kube's down)
    deployments: tuple[str, ...] = ()  # "namespace/name" of every Deployment `status` checks

    def url(self, forward: str) -> str:
        if forward not in self.ports:
            raise BadInput(f"the stack has no local forward for {forward}",
                           f"forwards: {', '.join(sorted(self.ports)) or 'none'}",
                           "run 'appliance up' again for this stack")
        return f"http://127.0.0.1:{self.ports[forward]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "cluster": self.cluster,
            "stubsImage": self.stubs_image,
            "workloadNamespace": self.workload_namespace,
            "ports": dict(sorted(self.ports.items())),
            "forwarderPid": self.forwarder_pid,
            "namespaces": list(self.namespaces),
            "deployments": list(self.deployments),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "state.json") -> ClusterSettings:
        try:
            return cls(
                kubeconfig=Path(str(data["kubeconfig"])),
                context=str(data["context"]),
                cluster=str(data.get("cluster") or ""),
                stubs_image=str(data.get("stubsImage") or "appliance-stubs:dev"),
                workload_namespace=str(data.get("workloadNamespace") or WORKLOAD_NAMESPACE),
                ports={str(k): int(v) for k, v in dict(data.get("ports") or {}).items()},
                forwarder_pid=int(data.get("forwarderPid") or 0),
                namespaces=tuple(str(n) for n in data.get("namespaces") or ()),
                deployments=tuple(str(d) for d in data.get("deployments") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{source}: the cluster settings are corrupted", f"bad or missing {exc}",
                           "run 'appliance down' and 'appliance up' again") from exc


def of_stack(name: str, run_dir: Path) -> ClusterSettings:
    """The settings a cluster stack's `up` recorded in its run dir (what engine factories read)."""
    from appliance.errors import MissingPrerequisite
    from appliance.runtime.state import RunDir

    state = RunDir(name, run_dir.parent).load()
    if state is None:
        raise MissingPrerequisite(f"stack {name!r} is not up", "", f"run 'appliance up --name {name}'")
    if not state.settings:
        raise MissingPrerequisite(f"stack {name!r} has no cluster settings",
                                  f"it is a {state.target} stack, or its 'up' did not finish",
                                  f"run 'appliance up --name {name}' with --target kind or kube")
    return ClusterSettings.from_dict(state.settings, str(run_dir / "state.json"))
