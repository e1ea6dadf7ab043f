"""NetworkPolicy coverage across documents: pods selected by no policy, allow-all rules."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.k8s.data import as_dict
from appliance.review.graph import policy_types
from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

NOT_COVERED = Rule("netpol.not-covered", "Pod not isolated by any NetworkPolicy", Severity.MEDIUM,
                   "add a default-deny NetworkPolicy for the namespace and allow only the "
                   "traffic the component needs", "network-policy")
ALLOW_ALL = Rule("netpol.allow-all", "NetworkPolicy rule allows all traffic", Severity.MEDIUM,
                 "restrict the rule with from/to peers or ports", "network-policy")
RULES: tuple[Rule, ...] = (NOT_COVERED, ALLOW_ALL)


def check(ctx: Context) -> Iterable[Finding]:
    bundle = ctx.bundle
    for o in bundle.objects:
        if not o.is_workload:
            continue
        for view in o.views:
            # Policies come from anywhere in the bundle (any file or document), matched by
            # namespace and pod labels, as the API server matches them.
            policies = bundle.policies_selecting(o.namespace, view.labels)
            ingress = [p for p in policies if "Ingress" in policy_types(p)]
            egress = [p for p in policies if "Egress" in policy_types(p)]
            if ingress:
                continue
            detail = "no NetworkPolicy selects it" if not policies else \
                "only egress is restricted"
            egress_note = f"egress restricted by {', '.join(p.name for p in egress)}" \
                if egress else "egress unrestricted"
            yield ctx.finding(o, NOT_COVERED, (*view.meta_path, "labels"),
                              f"pods of {o.kind} {o.name} accept traffic from anywhere: {detail}",
                              evidence=[egress_note])
    for policy in bundle.by_kind["NetworkPolicy"]:
        spec = as_dict(policy.obj.get("spec"))
        for direction, peers_key, severity in (("ingress", "from", Severity.MEDIUM),
                                               ("egress", "to", Severity.LOW)):
            rules = spec.get(direction)
            if not isinstance(rules, list):
                continue
            for index, rule in enumerate(rules):
                rule = as_dict(rule)
                if not rule.get(peers_key) and not rule.get("ports"):
                    target = "from any source" if direction == "ingress" else "to any destination"
                    yield ctx.finding(policy, ALLOW_ALL, ("spec", direction, index),
                                      f"NetworkPolicy {policy.name} allows {direction} {target} "
                                      "on every port", severity=severity)
