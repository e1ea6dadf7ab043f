"""Where the tests find this checkout, and the shared upstream manifests kept beside it in development.

The product never looks beside its own installation: tests that need the pinned upstream files pass
this location to it through APPLIANCE_UPSTREAM or APPLIANCE_CACHE, as the Makefile and .ci/run do.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def upstream_dir() -> Path:
    """$APPLIANCE_UPSTREAM when set (CI sets it), else ../shared/upstream beside the checkout."""
    configured = os.environ.get("APPLIANCE_UPSTREAM")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "upstream"


def oracle_dir() -> Path:
    """The Pod Security oracle fixtures, which sit beside the upstream manifests in the shared folder."""
    return upstream_dir().parent / "oracles" / "pss"
