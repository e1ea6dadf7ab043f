"""Profile loading for `up`: shipped names, strict decoding, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import profile as profiles
from appliance.errors import BadInput, InvalidDocument


def test_shipped_profiles_load() -> None:
    assert {"minimal", "standard", "serving"} <= set(profiles.available())
    assert profiles.load("minimal").components[:2] == ("object-store", "pipelines")
    assert profiles.load("serving").has("serving")
    assert not profiles.load("minimal").has("serving")


def test_unknown_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(BadInput) as info:
        profiles.load("nope")
    assert info.value.what == "unknown profile 'nope'"
    assert "minimal" in info.value.why


def test_every_problem_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: v0\nkind: Profile\nmetadata: {}\nspec:\n  components: [gpu]\n  extra: 1\n"
    )
    with pytest.raises(InvalidDocument) as info:
        profiles.load(str(path))
    problems = info.value.problems
    assert any(p.startswith("apiVersion: expected") for p in problems)
    assert "metadata.name: required string" in problems
    assert any(p.startswith("spec.components[0]: unknown component 'gpu'") for p in problems)
    assert "spec.extra: unknown field" in problems
    assert "spec.components: every profile needs 'object-store'" in problems


def test_bad_yaml_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("a: [unclosed\n")
    with pytest.raises(BadInput, match="is not valid YAML"):
        profiles.load(str(path))
