"""Containers without a memory limit (a node-wide denial of service through one pod)."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.k8s.data import as_dict
from appliance.review.model import Finding, Rule, Severity
from appliance.review.rules.base import Context

NO_MEMORY_LIMIT = Rule("resources.no-memory-limit", "Container has no memory limit",
                       Severity.LOW, "set resources.limits.memory", "resources")
RULES: tuple[Rule, ...] = (NO_MEMORY_LIMIT,)


def check(ctx: Context) -> Iterable[Finding]:
    for o in ctx.bundle.objects:
        for view in o.views:
            for c in view.containers:
                # Init containers run before the app and one at a time, and ephemeral containers
                # cannot set resources; reporting them is a false positive users complain about.
                if c.is_init or c.is_ephemeral:
                    continue
                limits = as_dict(as_dict(c.spec.get("resources")).get("limits"))
                if limits.get("memory") in (None, ""):
                    role = f"{view.role}: " if view.role else ""
                    yield ctx.finding(o, NO_MEMORY_LIMIT, (*c.path, "resources", "limits"),
                                      f"{role}container {c.name!r} has no memory limit",
                                      container=c.name)
