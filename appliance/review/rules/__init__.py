"""The rule families, one module each, and the catalog of every rule id they can report."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.review.model import Finding, Rule
from appliance.review.rules import (
    exposure,
    images,
    namespaces,
    network_policy,
    pod_security,
    rbac,
    resources,
    secrets,
    service_accounts,
)
from appliance.review.rules.base import Context, RuleFamily

FAMILIES: tuple[RuleFamily, ...] = (pod_security, rbac, service_accounts, exposure,
                                    network_policy, images, resources, secrets, namespaces)
CATALOG: dict[str, Rule] = {rule.id: rule for family in FAMILIES for rule in family.RULES}


def run_all(ctx: Context) -> Iterable[Finding]:
    for family in FAMILIES:
        yield from family.check(ctx)
