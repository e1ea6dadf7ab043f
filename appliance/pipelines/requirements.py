"""What a compiled KFP task installs at start: the requirements of its `pip install` preamble."""

from __future__ import annotations

import re
import shlex

_PIP_INSTALL = re.compile(r"-m pip install (?P<args>.*?)(?:&&|$)", re.S)
# pip options that take a value: their value is not a requirement.
_VALUED_OPTIONS = {"-i", "--index-url", "--extra-index-url", "--trusted-host", "-f",
                   "--find-links", "-c", "--constraint"}


def pip_requirements(script: str) -> list[str]:
    """The requirements a compiled task's `sh -c` preamble installs (every target reads them: the
    local target to skip what is installed, a cluster to run on an image that has them)."""
    found: list[str] = []
    for match in _PIP_INSTALL.finditer(script):
        tokens = shlex.split(match.group("args"))
        skip = False
        for token in tokens:
            if skip:
                skip = False
            elif token in _VALUED_OPTIONS:
                skip = True
            elif not token.startswith("-"):
                found.append(token)
    return found
