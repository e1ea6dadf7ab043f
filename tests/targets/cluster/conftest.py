"""Fixtures for the cluster tests: the rendered standard bundle, materialized as a target applies it
(skipped with the reason when the upstream cache is absent, as tests/profiles does)."""

from __future__ import annotations

from typing import Any

import pytest
from checkout import upstream_dir


@pytest.fixture(scope="session")
def standard_bundle() -> Any:
    """The standard profile rendered (appliance.render.Bundle), before credentials."""
    from appliance.render import render_profile

    upstream = upstream_dir()
    if not (upstream / "SOURCES.md").is_file():
        pytest.skip(f"upstream manifests not found at {upstream} (CI sets APPLIANCE_UPSTREAM)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPLIANCE_CACHE", str(upstream))
        return render_profile("standard")


@pytest.fixture(scope="session")
def standard_objects(standard_bundle: Any) -> list[dict[str, Any]]:
    from appliance.render.install import materialize

    # Fixed credentials: the test is about applying, and fixed values keep it deterministic.
    return materialize(standard_bundle.objects, token=lambda: "t0k3n").objects
