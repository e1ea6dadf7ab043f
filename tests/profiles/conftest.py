"""Fixtures for profile tests: the shipped upstream cache (skipped with the reason when absent),
rendered bundles shared per worker, and small hand-written manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkout import upstream_dir

from appliance.render import Bundle, render_profile

SHIPPED = ("minimal", "standard", "serving")


@pytest.fixture(scope="session")
def upstream() -> Path:
    path = upstream_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.skip(f"upstream manifests not found at {path} (CI sets APPLIANCE_UPSTREAM)")
    return path


@pytest.fixture
def upstream_cache(upstream: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPLIANCE_CACHE", str(upstream))
    return upstream


@pytest.fixture(scope="session")
def bundles(upstream: Path) -> dict[str, Bundle]:
    # APPLIANCE_CACHE is set only while rendering: a session-long patch would leak into every
    # later test of the worker. Bundles hold their objects, so nothing reads the cache afterwards.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPLIANCE_CACHE", str(upstream))
        return {name: render_profile(name) for name in SHIPPED}


@pytest.fixture(scope="session")
def yamls(bundles: dict[str, Bundle]) -> dict[str, str]:
    """Each bundle serialised once (serialising megabytes of CRDs is the slow part)."""
    return {name: bundle.to_yaml() for name, bundle in bundles.items()}
