"""Which stack a run uses: attach by name, or an ephemeral one that is always stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from appliance.conformance import stacks
from appliance.console import Console
from appliance.errors import BadInput, MissingPrerequisite


@dataclass
class FakeTarget:
    name: str = "local"
    fail_up: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)

    def up(self, name: str, profile: Any, port: Any, console: Any) -> None:
        self.calls.append(("up", name))
        if self.fail_up:
            raise MissingPrerequisite("no way")

    def down(self, name: str, console: Any) -> bool:
        self.calls.append(("down", name))
        return True

    def stack(self, name: str) -> Any:
        if name != "dev":
            raise BadInput(f"no stack named {name!r} is up")
        return SimpleNamespace(profile=SimpleNamespace(name="minimal"))

    def status(self, name: str) -> Any:
        sick = SimpleNamespace(name="object-store", healthy=False)
        return SimpleNamespace(healthy=False, components=[sick])


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> FakeTarget:
    fake = FakeTarget()
    monkeypatch.setattr("appliance.targets.get", lambda name: fake)
    return fake


def test_a_named_stack_is_attached_and_left_running(target: FakeTarget) -> None:
    console = Console(quiet=True)
    with stacks.use(None, "dev", "standard", console) as info:
        assert info == stacks.StackInfo("dev", "local", "minimal", ephemeral=False)
    assert target.calls == []
    with pytest.raises(BadInput, match="no stack named 'nope'"):
        with stacks.use(None, "nope", "standard", console):
            pass


def test_an_unhealthy_stack_is_tested_with_a_warning(
    target: FakeTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks.attach(None, "dev", Console())
    assert "warning: stack 'dev' is unhealthy (object-store)" in capsys.readouterr().err


def test_an_ephemeral_stack_is_stopped_even_when_the_run_fails(target: FakeTarget) -> None:
    with pytest.raises(RuntimeError, match="suite crashed"):
        with stacks.use(None, None, "minimal", Console(quiet=True)) as info:
            assert info.ephemeral and info.name.startswith("conformance-") and info.profile == "minimal"
            raise RuntimeError("suite crashed")
    assert target.calls == [("up", info.name), ("down", info.name)]


def test_a_failed_start_is_cleaned_up_and_reported(target: FakeTarget) -> None:
    target.fail_up = True
    with pytest.raises(MissingPrerequisite, match="no way"):
        with stacks.use(None, None, "minimal", Console(quiet=True)):
            raise AssertionError("must not run")
    [(up, name), (down, same)] = target.calls
    assert (up, down, same) == ("up", "down", name)


def test_unknown_profile_is_bad_input(target: FakeTarget) -> None:
    with pytest.raises(BadInput, match="unknown profile 'huge'"):
        with stacks.use(None, None, "huge", Console(quiet=True)):
            pass
    assert target.calls == []
