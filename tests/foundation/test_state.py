"""Run-dir state: atomic writes, 0600 secrets, corrupt and foreign files rejected with a fix."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from appliance.errors import BadInput
from appliance.runtime.state import Component, RunDir, StackState, list_stacks, validate_name


def test_round_trip_and_permissions(appliance_home: Path) -> None:
    run_dir = RunDir("dev")
    run_dir.create()
    state = StackState("dev", "local", "minimal", 100.0)
    state.components["object-store"] = Component("object-store", 42, 9000, "http://x", 101.0)
    run_dir.save(state)
    run_dir.save_credentials({"access_key": "a", "secret_key": "s"})
    loaded = run_dir.load()
    assert loaded == state
    assert stat.S_IMODE(run_dir.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(run_dir.path.stat().st_mode) == 0o700
    assert run_dir.load_credentials() == {"access_key": "a", "secret_key": "s"}
    assert list_stacks() == ["dev"]
    # No temp files are left beside the state after atomic writes.
    assert sorted(p.name for p in run_dir.path.iterdir()) == ["credentials.json", "logs", "state.json"]


def test_missing_state_is_none(appliance_home: Path) -> None:
    assert RunDir("nothing").load() is None


def test_corrupt_state_names_the_file_and_fix(appliance_home: Path) -> None:
    run_dir = RunDir("bad")
    run_dir.create()
    run_dir.state_file.write_text("{not json")
    with pytest.raises(BadInput) as info:
        run_dir.load()
    assert str(run_dir.state_file) in info.value.what
    assert "appliance down --name bad" in info.value.fix


def test_foreign_state_rejected(appliance_home: Path) -> None:
    run_dir = RunDir("foreign")
    run_dir.create()
    run_dir.state_file.write_text(json.dumps({"kind": "Something"}))
    with pytest.raises(BadInput, match="not an appliance state file"):
        run_dir.load()


def test_other_api_version_rejected(appliance_home: Path) -> None:
    run_dir = RunDir("future")
    run_dir.create()
    run_dir.state_file.write_text(json.dumps({"kind": "StackState", "apiVersion": "appliance.dev/v9"}))
    with pytest.raises(BadInput, match="unsupported apiVersion 'appliance.dev/v9'"):
        run_dir.load()


def test_state_missing_field_is_corrupt(appliance_home: Path) -> None:
    run_dir = RunDir("half")
    run_dir.create()
    run_dir.state_file.write_text(
        json.dumps({"kind": "StackState", "apiVersion": "appliance.dev/v1alpha1", "name": "half"})
    )
    with pytest.raises(BadInput, match="is corrupted"):
        run_dir.load()


@pytest.mark.parametrize("name", ["", "UPPER", "-dash", "dash-", "a" * 41, "with space", "../x"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(BadInput, match="invalid stack name"):
        validate_name(name)


@pytest.mark.parametrize("name", ["a", "dev", "ci-1", "a" * 40])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name
