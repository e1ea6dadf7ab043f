"""Hardening: pure transforms over a bundle's objects, each recording what it changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.harden import (
    credentials,
    exposure,
    image_digests,
    image_pull_policy,
    network_policies,
    pod_security_labels,
    resources,
    security_context,
    service_account_token,
)
from appliance.harden.model import Change, HardenContext, Result

Transform = Callable[[list[dict[str, Any]], HardenContext], Result]

# Order matters only where one transform's output feeds another: credentials and exposure first
# (they remove things), policies last (they add objects the others need not see).
TRANSFORMS: tuple[tuple[str, Transform], ...] = (
    (credentials.NAME, credentials.apply),
    (exposure.NAME, exposure.apply),
    (security_context.NAME, security_context.apply),
    (service_account_token.NAME, service_account_token.apply),
    (resources.NAME, resources.apply),
    (image_pull_policy.NAME, image_pull_policy.apply),
    (image_digests.NAME, image_digests.apply),
    (pod_security_labels.NAME, pod_security_labels.apply),
    (network_policies.NAME, network_policies.apply),
)


def harden(objects: list[dict[str, Any]], ctx: HardenContext) -> Result:
    """Run every transform in order; the result carries all changes and unresolved problems."""
    changes: list[Change] = []
    unresolved: list[str] = []
    for _name, transform in TRANSFORMS:
        result = transform(objects, ctx)
        objects = result.objects
        changes += result.changes
        unresolved += result.unresolved
    return Result(objects, changes, unresolved)


__all__ = ["TRANSFORMS", "Change", "HardenContext", "Result", "harden"]
