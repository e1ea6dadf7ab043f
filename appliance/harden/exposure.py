"""Transform: nothing exposed outside the cluster (Services ClusterIP only, no hostPorts)."""

from __future__ import annotations

from typing import Any

from appliance.harden.model import Change, HardenContext, Result, containers, copy, pod_spec
from appliance.k8s.refs import ResourceRef

NAME = "exposure"
HOST_PORTS = "pss.baseline.host-ports"
_EXTERNAL_FIELDS = ("externalTrafficPolicy", "loadBalancerIP", "loadBalancerSourceRanges",
                    "loadBalancerClass", "allocateLoadBalancerNodePorts", "healthCheckNodePort")


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    out: list[dict[str, Any]] = []
    changes: list[Change] = []
    for obj in objects:
        ref = ResourceRef.of(obj)
        new = copy(obj)
        found: list[Change] = []
        if obj.get("kind") == "Service":
            found = _service(new, ref)
        elif (spec := pod_spec(new)) is not None and not ctx.excepted(HOST_PORTS, ref):
            for container, path in containers(*spec):
                for index, port in enumerate(container.get("ports") or []):
                    if isinstance(port, dict) and port.get("hostPort"):
                        found.append(Change(NAME, ref, f"{path}.ports[{index}].hostPort",
                                            f"{port.pop('hostPort')} -> removed"))
        changes += found
        out.append(new if found else obj)
    return Result(out, changes)


def _service(service: dict[str, Any], ref: ResourceRef) -> list[Change]:
    spec = service.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind not in ("NodePort", "LoadBalancer"):
        return []
    spec["type"] = "ClusterIP"
    changes = [Change(NAME, ref, "spec.type", f"{kind} -> ClusterIP")]
    for index, port in enumerate(spec.get("ports") or []):
        if isinstance(port, dict) and "nodePort" in port:
            port.pop("nodePort")
            changes.append(Change(NAME, ref, f"spec.ports[{index}].nodePort", "removed"))
    for field in _EXTERNAL_FIELDS:
        if field in spec:
            spec.pop(field)
            changes.append(Change(NAME, ref, f"spec.{field}", "removed"))
    return changes
