"""Whether the real kind path can run on this machine: tests marked `kind` skip with this reason."""

from __future__ import annotations

import shutil
import subprocess


def why_not() -> str:
    """Why a real kind cluster cannot be made here ('' when it can)."""
    if shutil.which("kind") is None:
        return "kind is not installed"
    if shutil.which("docker") is None:
        return "docker is not installed"
    done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return "the Docker daemon is not reachable"
    return ""


WHY = why_not()
