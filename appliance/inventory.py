"""Inventory of a set of manifests: pods, containers, images, requests, CRDs, cluster RBAC."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from appliance.harden.model import containers, pod_spec
from appliance.harden.runtime import runtime_images
from appliance.k8s import quantity

_CLUSTER_RBAC = ("ClusterRole", "ClusterRoleBinding")


@dataclass(frozen=True)
class Inventory:
    """Figures at default replicas on a one-node cluster (a DaemonSet counts one pod)."""

    name: str
    objects: int
    pods: int
    containers: int
    init_containers: int
    images: int
    images_pinned: int
    runtime_images: int  # images only controllers start (suggestions, step drivers, model servers)
    cpu_requests_millicores: int
    memory_requests_mib: int
    memory_limits_mib: int
    crds: int
    cluster_rbac: int
    webhooks: int

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def _replicas(obj: dict[str, Any]) -> int:
    kind = obj.get("kind")
    if kind == "CronJob":
        return 0  # nothing runs until a schedule fires
    if kind in ("DaemonSet", "Pod", "Job"):
        return 1
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _amount(container: dict[str, Any], part: str, resource: str) -> Decimal:
    value = ((container.get("resources") or {}).get(part) or {}).get(resource)
    if value is None and part == "requests":
        # Kubernetes defaults a missing request to the limit.
        value = ((container.get("resources") or {}).get("limits") or {}).get(resource)
    return quantity.parse(value) if value is not None else Decimal(0)


def _pod_amount(spec: dict[str, Any], path: str, part: str, resource: str) -> Decimal:
    # A pod's effective figure: its app containers together, or its largest init container.
    main = sum((_amount(c, part, resource) for c in spec.get("containers") or []), Decimal(0))
    init = max((_amount(c, part, resource) for c in spec.get("initContainers") or []), default=Decimal(0))
    return max(main, init)


def inventory(name: str, objects: list[dict[str, Any]]) -> Inventory:
    pods = n_containers = n_init = 0
    cpu = memory = memory_limits = Decimal(0)
    images: set[str] = set()
    runtime: set[str] = set()
    for obj in objects:
        runtime.update(image for image, _role in runtime_images(obj))
        found = pod_spec(obj)
        if found is None:
            continue
        spec, path = found
        images.update(str(c["image"]) for c, _ in containers(spec, path) if c.get("image"))
        replicas = _replicas(obj)
        pods += replicas
        n_containers += replicas * len(spec.get("containers") or [])
        n_init += replicas * len(spec.get("initContainers") or [])
        cpu += replicas * _pod_amount(spec, path, "requests", "cpu")
        memory += replicas * _pod_amount(spec, path, "requests", "memory")
        memory_limits += replicas * _pod_amount(spec, path, "limits", "memory")
    kinds = [o.get("kind") for o in objects]
    return Inventory(
        name=name,
        objects=len(objects),
        pods=pods,
        containers=n_containers,
        init_containers=n_init,
        images=len(images),
        images_pinned=sum(1 for i in images if "@sha256:" in i),
        runtime_images=len(runtime - images),
        cpu_requests_millicores=int(cpu * 1000),
        memory_requests_mib=int(memory / 2**20),
        memory_limits_mib=int(memory_limits / 2**20),
        crds=kinds.count("CustomResourceDefinition"),
        cluster_rbac=sum(kinds.count(k) for k in _CLUSTER_RBAC),
        webhooks=sum(len(o.get("webhooks") or []) for o in objects
                     if o.get("kind") in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")),
    )


COLUMNS = (
    ("name", "manifests"),
    ("pods", "pods"),
    ("containers", "containers"),
    ("images", "images"),
    ("images_pinned", "by digest"),
    ("runtime_images", "runtime images"),
    ("cpu_requests_millicores", "CPU req (m)"),
    ("memory_requests_mib", "mem req (MiB)"),
    ("crds", "CRDs"),
    ("cluster_rbac", "cluster RBAC"),
    ("webhooks", "webhooks"),
)


def table(rows: list[Inventory]) -> str:
    """A plain text table, one row per inventory."""
    header = [title for _key, title in COLUMNS]
    body = [[str(getattr(row, key)) for key, _title in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = []
    for cells in [header, *body]:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    return "\n".join(lines) + "\n"
