"""Targets: where a stack runs. One interface, one implementation per target, chosen explicitly."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn

from appliance import stacks
from appliance.errors import BadInput
from appliance.targets.interface import Target

if TYPE_CHECKING:
    from appliance.stack import Stack

DEFAULT_TARGET = "local"
TARGET_ENV = "APPLIANCE_TARGET"


class TargetChoice(StrEnum):
    LOCAL = "local"
    KIND = "kind"
    KUBE = "kube"

    def create(self) -> Target:
        # Imported here: each target pulls in its own machinery, which other targets never need.
        if self is TargetChoice.LOCAL:
            from appliance.targets.local.target import LocalTarget

            return LocalTarget()
        if self is TargetChoice.KIND:
            from appliance.targets.kind.target import KindTarget

            return KindTarget()
        if self is TargetChoice.KUBE:
            from appliance.targets.kube.target import KubeTarget

            return KubeTarget()
        _unreachable(self)


def _unreachable(choice: NoReturn) -> NoReturn:
    raise AssertionError(f"unhandled target {choice!r}")


TARGETS = tuple(choice.value for choice in TargetChoice)


def get(name: str | None = None) -> Target:
    """The target asked for (--target, else $APPLIANCE_TARGET), else local: never guessed."""
    chosen = name or os.environ.get(TARGET_ENV) or DEFAULT_TARGET
    try:
        return TargetChoice(chosen).create()
    except ValueError:
        source = "--target" if name else f"${TARGET_ENV}"
        raise BadInput(
            f"unknown target {chosen!r} ({source})",
            f"targets: {', '.join(TARGETS)}",
            "use --target local (no Docker needed)",
        ) from None


def for_stack(name: str) -> Target:
    """The target a running stack was started on (its state says)."""
    return get(stacks.require(name).target)


def open_stack(name: str) -> Stack:
    """The handle of a running stack, from whichever target runs it."""
    return for_stack(name).stack(name)
