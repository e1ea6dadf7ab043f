"""Exposure outside the cluster: NodePort, LoadBalancer, external IPs, Ingress and Gateways."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.k8s.data import as_dict
from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

NODE_PORT = Rule("exposure.node-port", "Service exposed on every node (NodePort)",
                 Severity.MEDIUM, "use type ClusterIP and reach it with kubectl port-forward",
                 "exposure")
LOAD_BALANCER = Rule("exposure.load-balancer", "Service exposed through a load balancer",
                     Severity.HIGH, "use type ClusterIP and reach it with kubectl port-forward",
                     "exposure")
EXTERNAL_IPS = Rule("exposure.external-ips", "Service accepts traffic on external IPs",
                    Severity.HIGH, "remove spec.externalIPs", "exposure")
INGRESS = Rule("exposure.ingress", "Ingress or Gateway exposes services", Severity.MEDIUM,
               "remove the Ingress/Gateway from the profile, or terminate TLS and authenticate "
               "in front of it", "exposure")
RULES: tuple[Rule, ...] = (NODE_PORT, LOAD_BALANCER, EXTERNAL_IPS, INGRESS)

_GATEWAY_GROUPS = ("networking.istio.io/", "gateway.networking.k8s.io/")


def check(ctx: Context) -> Iterable[Finding]:
    for o in ctx.bundle.by_kind["Service"]:
        spec = as_dict(o.obj.get("spec"))
        kind = spec.get("type")
        ports = [str(as_dict(p).get("nodePort") or as_dict(p).get("port")) for p in spec.get("ports") or []]
        if kind == "NodePort":
            yield ctx.finding(o, NODE_PORT, ("spec", "type"),
                              f"Service {o.name} is a NodePort (ports {', '.join(ports)})")
        elif kind == "LoadBalancer":
            yield ctx.finding(o, LOAD_BALANCER, ("spec", "type"),
                              f"Service {o.name} is a LoadBalancer")
        if spec.get("externalIPs"):
            ips = ", ".join(str(ip) for ip in spec["externalIPs"])
            yield ctx.finding(o, EXTERNAL_IPS, ("spec", "externalIPs"),
                              f"Service {o.name} accepts traffic on {ips}")
    for o in ctx.bundle.by_kind["Ingress"]:
        tls = bool(as_dict(o.obj.get("spec")).get("tls"))
        note = "with TLS" if tls else "without TLS (plain HTTP)"
        yield ctx.finding(o, INGRESS, ("spec",), f"Ingress {o.name} exposes services {note}")
    for o in ctx.bundle.by_kind["Gateway"]:
        if o.api_version.startswith(_GATEWAY_GROUPS):
            yield ctx.finding(o, INGRESS, ("spec",),
                              f"Gateway {o.name} ({o.api_version}) accepts traffic from outside "
                              "the cluster")
