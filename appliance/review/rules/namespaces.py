"""Objects placed in the `default` namespace, which no profile owns or isolates."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

DEFAULT_NAMESPACE = Rule("namespace.default", "Object in the default namespace", Severity.LOW,
                         "put the component in a namespace of its own", "namespaces")
RULES: tuple[Rule, ...] = (DEFAULT_NAMESPACE,)


def check(ctx: Context) -> Iterable[Finding]:
    for o in ctx.bundle.objects:
        if o.namespace == "default":
            yield ctx.finding(o, DEFAULT_NAMESPACE, ("metadata", "namespace"),
                              f"{o.kind} {o.name} is in the default namespace")
