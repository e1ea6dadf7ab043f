"""ServiceAccount tokens mounted into pods whose account has no RBAC grants (unused credentials)."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

AUTOMOUNT = Rule("sa.automount-token", "Unused ServiceAccount token mounted", Severity.LOW,
                 "set automountServiceAccountToken: false on the pod or its ServiceAccount",
                 "service-accounts")
RULES: tuple[Rule, ...] = (AUTOMOUNT,)


def check(ctx: Context) -> Iterable[Finding]:
    bundle = ctx.bundle
    for o in bundle.objects:
        if not o.is_workload:
            continue  # pods of custom resources get their account from their controller
        for view in o.views:
            namespace, name = bundle.service_account_of(o, view)
            mounted = view.spec.get("automountServiceAccountToken")
            sa = bundle.service_account(namespace, name)
            if not isinstance(mounted, bool) and sa is not None:
                mounted = sa.obj.get("automountServiceAccountToken")
            if mounted is False:
                continue
            # A token the account cannot use for anything is pure attack surface; accounts with
            # grants (controllers) need theirs, so they are not reported (Checkov's CKV_K8S_38
            # reports every unset field, which users list as noise).
            if bundle.has_grants(namespace, name):
                continue
            message = f"pod mounts the token of ServiceAccount {namespace}/{name}, which has " \
                      "no RBAC grants in this bundle"
            yield ctx.finding(o, AUTOMOUNT, (*view.spec_path, "automountServiceAccountToken"),
                              message)
