"""Transform: default-deny NetworkPolicies per owned namespace, plus the allows components need."""

from __future__ import annotations

from typing import Any

from appliance.catalog.model import Allow, Peer
from appliance.harden.model import Change, HardenContext, Result
from appliance.k8s.refs import ResourceRef

NAME = "network-policies"
NS_LABEL = "kubernetes.io/metadata.name"
# The API server is outside pod networking and its address unknown offline: allow its ports.
API_SERVER_PORTS = (443, 6443)


def _policy(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _ports(ports: tuple[int, ...] | list[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": port} for port in ports]


def _peer(peer: Peer) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if peer.namespace == "*":
        entry["namespaceSelector"] = {}
    else:
        entry["namespaceSelector"] = {"matchLabels": {NS_LABEL: peer.namespace}}
    if peer.pods is not None:
        entry["podSelector"] = peer.pods
    return entry


def policies(ctx: HardenContext) -> list[dict[str, Any]]:
    """The generated policies, in a stable order."""
    owned = set(ctx.owned_namespaces)
    made: list[dict[str, Any]] = []
    for namespace in sorted(owned):
        made.append(_policy(namespace, "default-deny", {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
        dns = {"namespaceSelector": {"matchLabels": {NS_LABEL: "kube-system"}},
               "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
        made.append(_policy(namespace, "allow-dns", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [dns], "ports": _ports([53], "UDP") + _ports([53])}]}))
    for namespace, access in ctx.api_server:
        if namespace in owned:
            made.append(_policy(namespace, f"allow-apiserver-{access.name}", {
                "podSelector": access.pods, "policyTypes": ["Egress"],
                "egress": [{"ports": _ports(API_SERVER_PORTS)}]}))
    for allow in ctx.allows:
        made += _allow(allow, owned)
    return made


def _allow(allow: Allow, owned: set[str]) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    if allow.to.namespace in owned:
        rule: dict[str, Any] = {"ports": _ports(allow.ports)}
        if not any(peer.anywhere for peer in allow.sources):
            rule["from"] = [_peer(peer) for peer in allow.sources]
        made.append(_policy(allow.to.namespace, f"allow-{allow.name}", {
            "podSelector": allow.to.pods or {}, "policyTypes": ["Ingress"], "ingress": [rule]}))
    # Egress side, in each owned source namespace (default-deny covers egress too).
    for index, peer in enumerate(allow.sources):
        if peer.anywhere or peer.namespace not in owned:
            continue
        suffix = "" if index == 0 else f"-{index}"
        made.append(_policy(peer.namespace, f"allow-{allow.name}-egress{suffix}", {
            "podSelector": peer.pods or {}, "policyTypes": ["Egress"],
            "egress": [{"to": [_peer(allow.to)], "ports": _ports(allow.ports)}]}))
    return made


def apply(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    existing = {ResourceRef.of(o) for o in objects}
    added: list[dict[str, Any]] = []
    changes: list[Change] = []
    unresolved: list[str] = []
    for policy in policies(ctx):
        ref = ResourceRef.of(policy)
        if ref in existing:
            # Two allows with one name in one namespace would silently replace each other.
            unresolved.append(f"{ref}: generated twice or clashes with an upstream object (rename the allow)")
            continue
        existing.add(ref)
        added.append(policy)
        changes.append(Change(NAME, ref, "", "added"))
    return Result(list(objects) + added, changes, unresolved)
