"""The kind target: not built yet; says so plainly instead of pretending."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from appliance import doctor
from appliance.config.profile import Profile
from appliance.console import Console
from appliance.errors import MissingPrerequisite
from appliance.runtime.process import CommandRunner
from appliance.stack import Engines
from appliance.targets.interface import Check, StackStatus, UpOptions

if TYPE_CHECKING:
    from appliance.stack import Stack

ENGINES = Engines(missing="the kind target is not built yet")


def _not_built() -> NoReturn:
    raise MissingPrerequisite(
        "the kind target is not built yet",
        "this release runs stacks on the local target only",
        "use --target local (or omit --target); render and review profiles with "
        "'appliance render' / 'appliance review'",
    )


class KindTarget:
    name = "kind"

    def __init__(self, runner: CommandRunner | None = None) -> None:
        self.runner = runner or CommandRunner()

    def preflight(self, profile: Profile | None = None) -> list[Check]:
        return [
            doctor.docker_daemon(self.runner),
            doctor.tool(self.runner, "kind", ["kind", "version"],
                        "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/"),
            doctor.tool(self.runner, "kubectl", ["kubectl", "version", "--client"],
                        "install kubectl: https://kubernetes.io/docs/tasks/tools/"),
            Check("kind target", False, "not built yet", "use --target local"),
        ]

    def up(self, name: str, profile: Profile, options: UpOptions, console: Console) -> StackStatus:
        _not_built()

    def status(self, name: str) -> StackStatus | None:
        _not_built()

    def down(self, name: str, console: Console) -> bool:
        _not_built()

    def stack(self, name: str) -> Stack:
        _not_built()

    def collect_diagnostics(self, name: str, out_dir: Path) -> list[Path]:
        _not_built()
