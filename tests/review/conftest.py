"""Review test fixtures: review YAML text, and the shared upstream manifests (skipped if absent)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.paths import REPO_ROOT
from appliance.review import Options, Report, review
from appliance.review.loader import load_text

ReviewYaml = Callable[..., Report]


def upstream_dir() -> Path:
    configured = os.environ.get("APPLIANCE_UPSTREAM")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "upstream"


@pytest.fixture
def review_yaml() -> ReviewYaml:
    def run(text: str, options: Options | None = None, source: str = "test.yaml") -> Report:
        return review(load_text(text, source), options)

    return run


@pytest.fixture
def upstream() -> Path:
    path = upstream_dir()
    if not path.is_dir():
        pytest.skip(f"upstream manifests not found at {path} (set APPLIANCE_UPSTREAM)")
    return path
