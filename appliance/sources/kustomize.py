"""`kubectl kustomize` for git pins: its kustomize version, a path's render, the wrapper patch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from appliance.errors import ExternalCommandFailed, MissingPrerequisite
from appliance.runtime.process import CommandRunner

_VERSION_LINE = re.compile(r"^Kustomize Version:\s*(v\S+)\s*$", re.M)
INSTALL_FIX = ("install kubectl (v1.32 carries kustomize v5.5.0, the version of the shipped pins), "
               "or fill the cache from a verified copy with `appliance fetch --from DIR`")


class Kustomize:
    """The kustomize built into kubectl, through the one process seam."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner
        self._version: str | None = None

    def version(self) -> str:
        """The kustomize version of `kubectl version --client` (e.g. v5.5.0), read once."""
        if self._version is None:
            argv = ["kubectl", "version", "--client"]
            try:
                output = self.runner.run(argv, timeout=60).output
            except ExternalCommandFailed as exc:
                if exc.why.endswith("is not installed"):
                    raise MissingPrerequisite("kubectl is not installed",
                                              "git pins are rendered with `kubectl kustomize`",
                                              INSTALL_FIX) from exc
                raise
            found = _VERSION_LINE.search(output)
            if not found:
                raise ExternalCommandFailed(argv, output, "it names no Kustomize Version",
                                            "use kubectl v1.14 or newer")
            self._version = found.group(1)
        return self._version

    def build(self, directory: Path, output: Path) -> str:
        """Render one kustomization; --output keeps kustomize's warnings out of the text."""
        self.runner.run(["kubectl", "kustomize", str(directory), "--output", str(output)], timeout=600)
        text = output.read_text(encoding="utf-8")
        return text if text.endswith("\n") else text + "\n"

    def patch(self, text: str, patches: Sequence[dict[str, Any]], work: Path) -> str:
        """Apply strategic-merge patches to rendered text through a wrapper kustomization.

        `fifo` keeps the input's order: the wrapper edits objects, it does not re-sort what the
        pinned paths (each with its own sort options) rendered.
        """
        work.mkdir(parents=True)
        (work / "rendered.yaml").write_text(text, encoding="utf-8")
        names = []
        for index, patch in enumerate(patches):
            names.append(f"patch-{index}.yaml")
            (work / names[-1]).write_text(yaml.safe_dump(patch, sort_keys=False), encoding="utf-8")
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "sortOptions": {"order": "fifo"},
            "resources": ["rendered.yaml"],
            "patches": [{"path": name} for name in names],
        }
        (work / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False),
                                                 encoding="utf-8")
        return self.build(work, work.parent / f"{work.name}.out.yaml")
