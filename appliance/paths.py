"""Where the appliance keeps state and caches: $APPLIANCE_HOME / $APPLIANCE_CACHE or the user's dirs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """State directory (run dirs of stacks)."""
    configured = os.environ.get("APPLIANCE_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_state_dir("appliance"))


def cache() -> Path:
    """Cache of fetched upstream sources."""
    configured = os.environ.get("APPLIANCE_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("appliance"))


def stacks_dir() -> Path:
    return home() / "stacks"
