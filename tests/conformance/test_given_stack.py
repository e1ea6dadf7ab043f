"""The embedding seam: pytest, in this process, with the conformance plugin and a GivenStack tests
that Stack object: no stack is looked up by name, started or stopped, and components absent from
its profile are skipped as for any stack."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from kind_machine import object_store_only

from appliance.objectstore import ObjectStore
from appliance.stack import Stack
from conformance.session import GivenStack

USER_TESTS = """
    import pytest

    import given_probe

    def test_uses_the_given_stack(stack):
        given_probe.seen.append(stack)

    @pytest.mark.conformance_area("tuning")
    @pytest.mark.requires_component("tuning")
    def test_needs_tuning(stack):
        given_probe.seen.append("tuning ran")
"""


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.SimpleNamespace]:
    found = types.SimpleNamespace(seen=[])
    monkeypatch.setitem(sys.modules, "given_probe", found)
    yield found


def given(tmp_path: Path) -> Stack:
    # Never contacted: the fixtures used here only hand the object out.
    store = ObjectStore("http://127.0.0.1:9", "given-key", "given-secret")
    return Stack("given", "kind", object_store_only(tmp_path), store, tmp_path / "run")


def run(tmp_path: Path, stack: Stack, *args: str) -> int:
    test_file = tmp_path / "test_user.py"
    test_file.write_text(textwrap.dedent(USER_TESTS))
    return int(pytest.main(["-p", "conformance.plugin", "-p", "no:cacheprovider", "-q", "-rs",
                            "--rootdir", str(tmp_path), str(test_file), *args],
                           plugins=[GivenStack(stack)]))


def test_the_given_stack_is_tested_and_nothing_is_looked_up(
    tmp_path: Path, probe: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A lookup by name or a start would fail loudly: the target named here does not exist.
    monkeypatch.setenv("APPLIANCE_TARGET", "no-such-target")
    stack = given(tmp_path)
    code = run(tmp_path, stack, "--stack", "not-running")
    out, err = capsys.readouterr()
    assert code == 0, out
    assert probe.seen == [stack]
    assert "1 passed, 1 skipped" in out
    assert "component 'tuning' is absent from profile 'store-only' of stack 'given'" in out
    assert "testing the given stack 'given' (kind, profile store-only)" in err


def test_a_given_stack_cannot_be_shared_with_xdist_workers(
    tmp_path: Path, probe: types.SimpleNamespace, capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(tmp_path, given(tmp_path), "-n", "1")
    _, err = capsys.readouterr()
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "a stack given in-process (GivenStack) cannot be shared with xdist workers: run " \
           "without -n" in err
    assert probe.seen == []
