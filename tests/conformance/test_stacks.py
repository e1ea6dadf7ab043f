"""Which stack a run uses: attach by name, else the running `default` stack when healthy, else an
ephemeral one that is always stopped."""

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
    # The `default` stack: absent, healthy, unhealthy, corrupt (its state cannot be read), unbuilt.
    default: str = "absent"
    calls: list[tuple[str, str]] = field(default_factory=list)

    def up(self, name: str, profile: Any, port: Any, console: Any) -> None:
        self.calls.append(("up", name))
        if self.fail_up:
            raise MissingPrerequisite("no way")

    def down(self, name: str, console: Any) -> bool:
        self.calls.append(("down", name))
        return True

    def stack(self, name: str) -> Any:
        if name == "default" and self.default == "healthy":
            return SimpleNamespace(profile=SimpleNamespace(name="serving"))
        if name != "dev":
            raise BadInput(f"no stack named {name!r} is up")
        return SimpleNamespace(profile=SimpleNamespace(name="minimal"))

    def status(self, name: str) -> Any:
        if name == "default":
            if self.default == "corrupt":
                raise BadInput("state.json is corrupted", "bad or missing field 'pid'")
            if self.default == "unbuilt":
                raise MissingPrerequisite("the kind target is not built yet")
            if self.default == "absent":
                return None
        sick = SimpleNamespace(name="object-store", healthy=False)
        well = self.default == "healthy" and name == "default"
        return SimpleNamespace(healthy=well, components=[] if well else [sick])


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> FakeTarget:
    fake = FakeTarget()
    monkeypatch.setattr("appliance.targets.get", lambda name: fake)

    def read(name: str) -> Any:
        """The stack index as the fake target's stacks would leave it."""
        if name == "default":
            if fake.default == "absent":
                return None
            if fake.default == "corrupt":
                raise BadInput("state.json is corrupted", "bad or missing field 'pid'")
            return SimpleNamespace(name=name, target=fake.name)
        return SimpleNamespace(name=name, target=fake.name) if name == "dev" else None

    def require(name: str) -> Any:
        found = read(name)
        if found is None:
            raise BadInput(f"no stack named {name!r} is up")
        return found

    monkeypatch.setattr("appliance.stacks.read", read)
    monkeypatch.setattr("appliance.stacks.require", require)
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


def test_without_a_name_the_healthy_default_stack_is_tested_and_left_running(
    target: FakeTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    target.default = "healthy"
    with stacks.use(None, None, "minimal", Console()) as info:
        assert info == stacks.StackInfo("default", "local", "serving", ephemeral=False)
    assert target.calls == []
    assert capsys.readouterr().err == (
        "testing the running stack 'default' (local, profile serving); it is left running "
        "(--stack NAME tests another)\n")


@pytest.mark.parametrize(("default", "why"), [
    ("absent", "no stack 'default' is running"),
    ("unhealthy", "stack 'default' is running but unhealthy (object-store; test it with --stack default)"),
    ("corrupt", "stack 'default' is not usable (state.json is corrupted: bad or missing field 'pid')"),
])
def test_without_a_usable_default_stack_an_ephemeral_one_is_started(
    target: FakeTarget, capsys: pytest.CaptureFixture[str], default: str, why: str
) -> None:
    target.default = default
    with stacks.use(None, None, "minimal", Console()) as info:
        assert info.ephemeral and info.name.startswith("conformance-")
    assert target.calls == [("up", info.name), ("down", info.name)]
    assert capsys.readouterr().err.splitlines() == [
        f"{why}: starting ephemeral stack {info.name!r} (local, profile minimal); it is stopped at the end",
        f"✓ ephemeral stack {info.name!r} is down",
    ]


def test_the_choice_is_told_apart_from_the_quiet_start(
    target: FakeTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    # The plugin starts stacks quietly but tells which one it tests (on stderr past capture).
    told = Console()
    info = stacks.choose(None, None, "minimal", Console(quiet=True), told)
    assert capsys.readouterr().err.startswith(f"no stack 'default' is running: starting ephemeral "
                                              f"stack {info.name!r}")
    stacks.stop(info, Console(quiet=True))
    assert capsys.readouterr().err == ""


def test_an_unusable_target_is_not_mistaken_for_an_absent_default(target: FakeTarget) -> None:
    target.default = "unbuilt"
    with pytest.raises(MissingPrerequisite, match="not built"):
        stacks.choose(None, None, "minimal", Console(quiet=True))
    assert target.calls == []


def test_a_bad_profile_is_bad_input_even_when_default_is_running(target: FakeTarget) -> None:
    target.default = "healthy"
    with pytest.raises(BadInput, match="unknown profile 'huge'"):
        stacks.choose(None, None, "huge", Console(quiet=True))
