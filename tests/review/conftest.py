"""Review test fixtures: review YAML text, and the shared upstream manifests (skipped if absent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from checkout import upstream_dir

from appliance.review import Options, Report, review
from appliance.review.loader import load_text

ReviewYaml = Callable[..., Report]


@pytest.fixture
def review_yaml() -> ReviewYaml:
    def run(text: str, options: Options | None = None, source: str = "test.yaml") -> Report:
        return review(load_text(text, source), options)

    return run


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared upstream manifests, also where the renderer looks for them (APPLIANCE_UPSTREAM)."""
    path = upstream_dir()
    if not path.is_dir():
        pytest.skip(f"upstream manifests not found at {path} (set APPLIANCE_UPSTREAM)")
    monkeypatch.setenv("APPLIANCE_UPSTREAM", str(path))
    return path
