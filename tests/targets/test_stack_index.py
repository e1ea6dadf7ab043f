"""The stack index and the target seam: stacks keep their target and decoded profile; every target
declares each engine or refuses it on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance import stacks, targets
from appliance.config import profile as profiles
from appliance.errors import BadInput, InvalidDocument, MissingPrerequisite
from appliance.runtime.state import RunDir, StackState
from appliance.stack import COMPONENT_ENGINES, Stack
from appliance.targets import TargetChoice


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("APPLIANCE_TARGET", raising=False)
    return tmp_path / "home"


def _custom(tmp_path: Path, name: str, components: list[str]) -> profiles.Profile:
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({
        "apiVersion": profiles.API_VERSION, "kind": "Profile",
        "metadata": {"name": name, "description": "a team's own"},
        "spec": {"components": components, "posture": "baseline"},
    }))
    return profiles.load(str(path))


def _record(name: str, target: str, profile: profiles.Profile) -> None:
    run_dir = RunDir(name)
    run_dir.create()
    run_dir.save(StackState(name, target, profile.name, 1.0, profile_document=profile.to_document(),
                            profile_source=str(profile.source)))


def test_a_custom_profile_file_is_kept_as_decoded(tmp_path: Path) -> None:
    custom = _custom(tmp_path, "team-a", ["object-store", "tuning"])
    _record("t1", "local", custom)
    record = stacks.require("t1")
    assert (record.target, record.profile) == ("local", custom)


def test_a_file_named_like_a_shipped_profile_is_not_replaced_by_it(tmp_path: Path) -> None:
    custom = _custom(tmp_path, "standard", ["object-store"])
    _record("t2", "local", custom)
    assert stacks.require("t2").profile.components == ("object-store",)
    assert profiles.load("standard").components != ("object-store",)


def test_a_state_written_before_profiles_were_recorded_names_a_shipped_profile() -> None:
    run_dir = RunDir("old")
    run_dir.create()
    run_dir.save(StackState("old", "local", "minimal", 1.0))
    assert "profileDocument" not in json.loads(run_dir.state_file.read_text())
    assert stacks.require("old").profile == profiles.load("minimal")


def test_a_recorded_profile_document_is_decoded_strictly(tmp_path: Path) -> None:
    custom = _custom(tmp_path, "team-b", ["object-store"])
    _record("t3", "local", custom)
    state = json.loads(RunDir("t3").state_file.read_text())
    state["profileDocument"]["spec"]["components"] = ["object-store", "gpu"]
    RunDir("t3").state_file.write_text(json.dumps(state))
    with pytest.raises(InvalidDocument) as caught:
        stacks.require("t3")
    assert caught.value.problems == ["spec.components[1]: unknown component 'gpu' "
                                     "(known: object-store, pipelines, tuning, serving)"]
    assert str(RunDir("t3").state_file) in caught.value.render()


def test_absent_stacks_and_recorded_targets() -> None:
    with pytest.raises(BadInput, match="no stack named 'nope' is up"):
        stacks.require("nope")
    assert stacks.read("nope") is None
    assert stacks.recorded_target("nope") is None
    _record("k", "kind", profiles.load("minimal"))
    assert stacks.recorded_target("k") == "kind"
    assert targets.for_stack("k").name == "kind"
    RunDir("k").state_file.write_text("{not json")
    assert stacks.recorded_target("k") is None  # down still works: it falls back to local's cleanup


def test_targets_are_chosen_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    assert targets.get().name == "local"
    monkeypatch.setenv("APPLIANCE_TARGET", "kind")
    assert targets.get().name == "kind"
    assert targets.get("local").name == "local"
    monkeypatch.setenv("APPLIANCE_TARGET", "mars")
    with pytest.raises(BadInput, match=r"unknown target 'mars' \(\$APPLIANCE_TARGET\)"):
        targets.get()


@pytest.mark.parametrize("choice", list(TargetChoice))
def test_every_target_implements_the_interface(choice: TargetChoice) -> None:
    target = choice.create()
    assert target.name == choice.value
    for method in ("preflight", "up", "status", "down", "stack", "collect_diagnostics"):
        assert callable(getattr(target, method)), method


# Each target x component: provided (a factory) or refused on purpose (None and a reason).
EXPECTED_ENGINES = {
    TargetChoice.LOCAL: {"pipelines": True, "tuning": True, "serving": True},
    TargetChoice.KIND: {"pipelines": True, "tuning": True, "serving": True},
    TargetChoice.KUBE: {"pipelines": True, "tuning": True, "serving": True},
}


def _engines(choice: TargetChoice):  # type: ignore[no-untyped-def]
    from appliance.targets.kind.target import ENGINES as KIND
    from appliance.targets.kube.target import ENGINES as KUBE
    from appliance.targets.local.engines import ENGINES as LOCAL

    return {TargetChoice.LOCAL: LOCAL, TargetChoice.KIND: KIND, TargetChoice.KUBE: KUBE}[choice]


@pytest.mark.parametrize("choice", list(TargetChoice))
def test_every_target_declares_every_engine(choice: TargetChoice) -> None:
    assert set(EXPECTED_ENGINES) == set(TargetChoice)
    engines = _engines(choice)
    for component in COMPONENT_ENGINES:
        provided = engines.factory(component) is not None
        assert provided == EXPECTED_ENGINES[choice][component], (choice, component)
    if not all(EXPECTED_ENGINES[choice].values()):
        assert engines.missing != "not available on this target"  # a reason, not the default


def test_local_engine_factories_import_their_engines(tmp_path: Path) -> None:
    """Each factory imports its module by its real name: a rename fails here, not for users."""
    from appliance.objectstore import ObjectStore
    from appliance.targets.local.engines import ENGINES

    stack = Stack("s", "local", profiles.load("standard"),
                  ObjectStore(endpoint="http://127.0.0.1:9", access_key="a", secret_key="b"),
                  tmp_path, ENGINES)
    assert type(stack.pipelines).__name__ == "LocalPipelinesEngine"
    assert type(stack.tuning).__name__ == "LocalTuningEngine"
    assert type(stack.serving).__name__ == "BackendServingEngine"
    assert stack.tuning is stack.tuning  # built once per handle


def test_a_refused_engine_says_why(tmp_path: Path) -> None:
    from appliance.objectstore import ObjectStore
    from appliance.stack import Engines

    store = ObjectStore(endpoint="http://127.0.0.1:9", access_key="a", secret_key="b")
    stack = Stack("s", "kind", profiles.load("standard"), store, tmp_path,
                  Engines(missing="this target runs no Katib"))
    refused = "the tuning engine is not available on the kind target"
    with pytest.raises(MissingPrerequisite, match=refused) as no:
        _ = stack.tuning
    assert no.value.why == "this target runs no Katib"
    minimal = Stack("m", "local", profiles.load("minimal"), store, tmp_path)
    with pytest.raises(MissingPrerequisite, match="stack 'm' has no serving component"):
        _ = minimal.serving
