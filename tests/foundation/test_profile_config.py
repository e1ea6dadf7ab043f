"""Profile loading for `up`: shipped names, strict decoding, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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


@pytest.mark.parametrize("name", ["Bad Name!", "Minimal", "-edge", "edge-", "a_b", "a.b", "x" * 64])
def test_name_must_be_a_dns_1123_label(tmp_path: Path, name: str) -> None:
    # The name is the value of the appliance.dev/profile label on every rendered object.
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": profiles.API_VERSION, "kind": "Profile",
                                    "metadata": {"name": name},
                                    "spec": {"components": ["object-store"]}}))
    with pytest.raises(InvalidDocument) as info:
        profiles.load(str(path))
    assert info.value.exit_code == 2
    assert info.value.problems == [
        f"metadata.name: {name!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters); it becomes the "
        "appliance.dev/profile label value"
    ]


@pytest.mark.parametrize("name", ["a", "team-2", "x" * 63])
def test_dns_1123_names_load(tmp_path: Path, name: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": profiles.API_VERSION, "kind": "Profile",
                                    "metadata": {"name": name},
                                    "spec": {"components": ["object-store"]}}))
    assert profiles.load(str(path)).name == name
