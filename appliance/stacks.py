"""The stack index: the stacks under $APPLIANCE_HOME/stacks, each with its target and decoded profile.

Every command after `up` finds its stack here; nothing assumes a target or re-resolves a profile
by name (a stack started from a profile file keeps that file's profile, whatever it is named).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from appliance.config import profile as profiles
from appliance.config.profile import Profile
from appliance.errors import BadInput
from appliance.runtime.state import RunDir, StackState, list_stacks

DEFAULT_STACK = "default"


@dataclass(frozen=True)
class StackRecord:
    """What the run dir says about a stack: where it runs and with which profile."""

    name: str
    target: str
    profile: Profile
    state: StackState
    run_dir: RunDir


def profile_of(state: StackState) -> Profile:
    """The profile the stack was started with, decoded again strictly from its recorded document."""
    if state.profile_document is not None:
        # Problems name the state file (where the document is); the profile keeps its own source.
        decoded = profiles.decode(state.profile_document, RunDir(state.name).state_file)
        return replace(decoded, source=Path(state.profile_source)) if state.profile_source else decoded
    # A state file written before profiles were recorded names a shipped profile.
    return profiles.load(state.profile)


def read(name: str) -> StackRecord | None:
    """The stack's record; None when no stack of that name exists (BadInput when its state is corrupt)."""
    run_dir = RunDir(name)
    state = run_dir.load()
    if state is None:
        return None
    return StackRecord(name, state.target, profile_of(state), state, run_dir)


def require(name: str) -> StackRecord:
    found = read(name)
    if found is None:
        raise BadInput(f"no stack named {name!r} is up", "", f"run 'appliance up --name {name}' first")
    return found


def recorded_target(name: str) -> str | None:
    """The target a stack's state names, read without decoding anything else (for `down`, which must
    work with a state that is otherwise corrupt)."""
    try:
        state = RunDir(name).load()
    except BadInput:
        return None
    return state.target if state is not None else None


def names() -> list[str]:
    return list_stacks()
