"""The kind target: not built yet; says so plainly instead of pretending."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from appliance.config.profile import Profile
from appliance.console import Console
from appliance.errors import MissingPrerequisite
from appliance.targets.interface import StackStatus

if TYPE_CHECKING:
    from appliance.stack import Stack

KIND_TARGET_BUILT = False


def _not_built() -> NoReturn:
    raise MissingPrerequisite(
        "the kind target is not built yet",
        "this release runs stacks on the local target only",
        "use --target local (or omit --target); render and review profiles with "
        "'appliance render' / 'appliance review'",
    )


class KindTarget:
    name = "kind"

    def up(self, name: str, profile: Profile, port: int | None, console: Console) -> StackStatus:
        _not_built()

    def status(self, name: str) -> StackStatus | None:
        _not_built()

    def down(self, name: str, console: Console) -> bool:
        _not_built()

    def stack(self, name: str) -> Stack:
        _not_built()
