"""Targets: where a stack runs. One interface, one implementation per target."""

from __future__ import annotations

import shutil

from appliance.errors import BadInput
from appliance.runtime.process import CommandRunner
from appliance.targets.interface import Target

TARGETS = ("local", "kind")


def docker_reachable(runner: CommandRunner | None = None) -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = (runner or CommandRunner()).run(["docker", "info"], timeout=10, check=False)
    except Exception:
        return False
    return result.returncode == 0


def default_target(runner: CommandRunner | None = None) -> str:
    """local unless Docker and kind are both usable (and the kind target is built)."""
    from appliance.targets.kind.target import KIND_TARGET_BUILT

    if KIND_TARGET_BUILT and shutil.which("kind") and docker_reachable(runner):
        return "kind"
    return "local"


def get(name: str | None) -> Target:
    chosen = name or default_target()
    if chosen == "local":
        from appliance.targets.local.target import LocalTarget

        return LocalTarget()
    if chosen == "kind":
        from appliance.targets.kind.target import KindTarget

        return KindTarget()
    raise BadInput(
        f"unknown target {chosen!r}",
        f"targets: {', '.join(TARGETS)}",
        "use --target local (no Docker needed)",
    )
