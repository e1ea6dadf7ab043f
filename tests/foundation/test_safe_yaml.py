"""Every user-supplied YAML goes through one bounded loader: alias bombs are refused, naming the file."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance import safe_yaml
from appliance.errors import BadInput


def bomb(levels: int = 9) -> str:
    """A 'billion laughs' document: each level holds nine aliases of the one before."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_bomb_is_refused_by_the_loader() -> None:
    with pytest.raises(BadInput) as refused:
        safe_yaml.load(bomb(), "bomb.yaml")
    assert refused.value.what == "bomb.yaml: document 1 (line 1) is refused"
    assert refused.value.why.startswith("YAML aliases expand this document by ")
    assert refused.value.why.endswith("nodes, more than the 10000 allowed")


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(BadInput) as refused:
        safe_yaml.load("a: &a {b: *a}\n", "loop.yaml")
    assert refused.value.why == "a YAML alias refers to the node that contains it"


def test_small_aliases_and_plain_documents_load() -> None:
    assert safe_yaml.load(bomb(3), "ok.yaml")["a2"][0][0] == ["x"] * 9
    assert safe_yaml.load_all("a: 1\n---\n---\nb: 2\n", "docs.yaml") == [{"a": 1}, None, {"b": 2}]
    assert safe_yaml.load("", "empty.yaml") is None


def _profile(path: Path) -> Any:
    from appliance.config import profile

    return profile.load(str(path))


def _policy(path: Path) -> Any:
    from appliance.gates import policy

    return policy.load(str(path))


def _experiment(path: Path) -> Any:
    from appliance.tuning import experiment

    return experiment.load(path)


def _pipeline(path: Path) -> Any:
    from appliance.pipelines import loader

    return loader.load(str(path))


@pytest.mark.parametrize("read", [_profile, _policy, _experiment, _pipeline],
                         ids=["profile", "policy", "experiment", "pipeline"])
def test_every_user_yaml_reader_refuses_a_bomb_naming_the_file(
    tmp_path: Path, read: Callable[[Path], Any]
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(textwrap.dedent(bomb()))
    with pytest.raises(BadInput) as refused:
        read(path)
    assert refused.value.what == f"{path}: document 1 (line 1) is refused"
