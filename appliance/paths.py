"""Where the appliance keeps state ($APPLIANCE_HOME or the user's state dir) and finds its shipped data."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import platformdirs

from appliance.errors import MissingPrerequisite

# The profiles, the component catalog and the image lock: the repository's profiles/ folder,
# installed as the package `appliance.profiles` (pyproject.toml maps it), in a wheel as in a checkout.
SHIPPED_DATA = "appliance.profiles"


def shipped(*parts: str) -> Path:
    """A file or folder of the shipped data (`profiles/` in the repository)."""
    try:
        root = importlib.resources.files(SHIPPED_DATA)
    except ModuleNotFoundError as exc:
        raise MissingPrerequisite(
            "the shipped profiles are not installed",
            f"the package {SHIPPED_DATA} is missing from this environment",
            "install the appliance with pip (its wheel, or `make install` in a checkout)",
        ) from exc
    # Callers glob this folder and hand its files to other tools: it must be a real directory,
    # which it is for every pip install (a wheel, or an editable install of a checkout).
    if not isinstance(root, Path):
        raise MissingPrerequisite(
            "the shipped profiles are not files on disk",
            f"{SHIPPED_DATA} is imported from {root}",
            "install the appliance with pip instead of importing it from an archive",
        )
    return root.joinpath(*parts)


def home() -> Path:
    """State directory (run dirs of stacks)."""
    configured = os.environ.get("APPLIANCE_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_state_dir("appliance"))


def stacks_dir() -> Path:
    return home() / "stacks"


def cache() -> Path:
    """The appliance's cache root ($APPLIANCE_CACHE, else the user's cache dir): fetched upstream
    sources, and the kind target's image archives."""
    configured = os.environ.get("APPLIANCE_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("appliance"))


def diagnostics_dir(stack: str, now: float | None = None) -> Path:
    """$APPLIANCE_HOME/diagnostics/<stack>-<UTC timestamp>: kept after `down`, unlike the run dir."""
    import time

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return home() / "diagnostics" / f"{stack}-{stamp}"
