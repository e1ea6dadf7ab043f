"""The conformance pytest plugin: options, the stack under test, per-test fixtures, result events.

Installed, pytest loads it by itself (the `pytest11` entry point `conformance.plugin`); naming it
with `pytest -p conformance.plugin` (the shipped suite's pytest.ini does) is then a no-op, and
`-p no:conformance.plugin` turns it off. Loaded, it starts nothing until a test uses a fixture. Options:

- `--target T` / `--stack NAME`: test that running stack. Without --stack: the running stack
  named `default` (what `appliance up` starts) when it is healthy, else an ephemeral stack
  (profile `--stack-profile`, default standard) started once and stopped at the end. Which one,
  and why, is said on stderr. Under pytest-xdist, when the plugin is named with `-p` (or a stack
  with --stack), the controller chooses (and starts) it and hands its name to the workers;
  merely auto-loaded, it starts nothing up front, and each worker chooses on first use.
- `--conformance-results PATH`: append one JSON line per finished test (`appliance conformance`).

Embedding: `pytest.main([...], plugins=[conformance.session.GivenStack(stack)])` tests a Stack
object the calling process holds (e.g. one whose engines talk to in-process fakes) instead of
looking one up by name: the options above that choose a stack are then ignored, and it cannot be
combined with pytest-xdist (its workers are other processes).

Fixtures: `stack` (session), `budget` (session: the target's time limits, conformance/budgets.py),
`object_store`, `stub_dataset`, `stub_model`, `gate_policy`
(`gate_policies` for others), `serving`; each isolated per test and per worker (its own key
prefix, model and deployment names; servers on free ports) and cleaned up after the test.

Markers: `conformance_area(name)` tags a shipped-suite test; `requires_component(name)` skips,
with that reason, when the stack's profile lacks the component. A shipped-suite test that is
skipped for any other reason is reported as failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

import pytest

from appliance import targets
from appliance.conformance.stacks import StackInfo
from appliance.console import Console
from appliance.stack import Stack
from conformance.budgets import Budget, budget_for
from conformance.deployments import ServingSandbox
from conformance.instruments import StubDataset, StubModels, store_dataset
from conformance.policies import GatePolicies, GatePolicy
from conformance.recorder import AREA_PROPERTY, Recorder
from conformance.sandbox import Isolation, ObjectStoreSandbox, TestScope
from conformance.session import GivenStack, StackSession, StackUnavailable

_SESSION = pytest.StashKey[StackSession]()
_ISOLATION = pytest.StashKey[Isolation]()
_COMPONENT_SKIP = pytest.StashKey[bool]()
WORKER_STACK = "appliance_conformance_stack"
# The name `-p` and the pytest11 entry point both use, so that loading it both ways registers it once.
PLUGIN_NAME = "conformance.plugin"
# The model registry keeps its records under registry/<model>/ (appliance/gates/registry.py).
REGISTRY_PREFIX = "registry"
AREA_MARKER = "conformance_area"
COMPONENT_MARKER = "requires_component"


def _given(config: pytest.Config) -> GivenStack | None:
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, GivenStack)), None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("appliance-conformance", "appliance conformance suite")
    group.addoption("--target", choices=targets.TARGETS, default=None,
                    help="target of the stack under test (default: local unless kind is usable)")
    group.addoption("--stack", metavar="NAME", default=None,
                    help="a running stack to test (default: an ephemeral stack for this session)")
    group.addoption("--stack-profile", metavar="PROFILE", default="standard",
                    help="profile of the ephemeral stack (default: standard)")
    group.addoption("--conformance-results", metavar="PATH", default=None,
                    help="append one JSON line per finished test (used by `appliance conformance`)")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{AREA_MARKER}(name): the conformance area of a test")
    config.addinivalue_line(
        "markers", f"{COMPONENT_MARKER}(name): skip when the stack's profile lacks the component"
    )
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    handed = workerinput.get(WORKER_STACK)
    given = _given(config)
    if given is not None:
        config.stash[_SESSION] = StackSession.given(given.stack)
        told = Console(err=cast(TextIO, _UncapturedStderr(config)))
        told.info(f"testing the given stack {given.stack.name!r} ({given.stack.target}, profile "
                  f"{given.stack.profile.name})")
    elif handed:
        info = StackInfo(**json.loads(handed))
        config.stash[_SESSION] = StackSession(info.target, info.name, info.profile)
    else:
        config.stash[_SESSION] = StackSession(
            config.getoption("--target"), config.getoption("--stack"), config.getoption("--stack-profile"),
            told=Console(err=cast(TextIO, _UncapturedStderr(config))),
        )
    config.stash[_ISOLATION] = Isolation.new(str(workerinput.get("workerid", "main")))
    if not _is_worker(config):
        config.pluginmanager.register(_Handover(config.stash[_SESSION]), "conformance-handover")
        results = config.getoption("--conformance-results")
        if results:
            config.pluginmanager.register(Recorder(Path(results)), "conformance-recorder")


class _UncapturedStderr(io.TextIOBase):
    """stderr past pytest's output capture: the choice of stack is seen when it is made, even
    when that happens inside the first test's setup."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def write(self, text: str) -> int:
        capture = self.config.pluginmanager.getplugin("capturemanager")
        disabled = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
        with disabled:
            sys.stderr.write(text)
            sys.stderr.flush()
        return len(text)


class _Handover:
    """xdist controller side: the workers test the stack the controller resolved."""

    def __init__(self, session: StackSession) -> None:
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.session.started:
            info = self.session.info
            node.workerinput[WORKER_STACK] = json.dumps(dataclasses.asdict(info))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config) or config.option.collectonly:
        return
    stack_session = config.stash[_SESSION]
    if _given(config) is not None and config.pluginmanager.hasplugin("dsession"):
        raise pytest.UsageError("a stack given in-process (GivenStack) cannot be shared with xdist "
                                "workers: run without -n")
    # A named stack is checked up front (a typo must not look like failing tests); under xdist
    # the one ephemeral stack is started before the workers so that they all share it, but only
    # when the plugin was asked for: auto-loaded into every pytest run of the environment, it must
    # not start a stack for a session that never uses one.
    shared = config.pluginmanager.hasplugin("dsession") and _named_with_p(config)
    if stack_session.name or shared:
        try:
            stack_session.info  # noqa: B018 - resolving is the point
        except StackUnavailable as exc:
            raise pytest.UsageError(str(exc)) from None


def _named_with_p(config: pytest.Config) -> bool:
    """`-p conformance.plugin` on the command line or in addopts (the shipped suite's pytest.ini)."""
    return PLUGIN_NAME in (config.option.plugins or [])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION in config.stash:
        config.stash[_SESSION].close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker(AREA_MARKER)
        if marker is not None:
            item.user_properties.append((AREA_PROPERTY, str(marker.args[0])))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    markers = list(item.iter_markers(COMPONENT_MARKER))
    if not markers:
        return
    try:
        stack = item.config.stash[_SESSION].stack()
    except StackUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    for marker in markers:
        component = str(marker.args[0])
        if not stack.profile.has(component):
            item.stash[_COMPONENT_SKIP] = True
            pytest.skip(
                f"component {component!r} is absent from profile {stack.profile.name!r} "
                f"of stack {stack.name!r}"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if item.get_closest_marker(AREA_MARKER) is None:
        return report
    unexpected_skip = report.skipped and not item.stash.get(_COMPONENT_SKIP, False)
    if unexpected_skip or hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "xfail"
        report.outcome = "failed"
        report.longrepr = (
            "conformance tests are never skipped or expected to fail (only a component absent "
            f"from the stack's profile is skipped); this one was: {reason}"
        )
    return report


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Stack:
    """The stack under test (appliance.stack.Stack): object_store, pipelines, tuning, serving."""
    try:
        return request.config.stash[_SESSION].stack()
    except StackUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def budget(stack: Stack) -> Budget:
    """How long one pipeline run and one Experiment may take on the stack's target."""
    return budget_for(stack.target)


@pytest.fixture
def conformance_scope(request: pytest.FixtureRequest) -> TestScope:
    """This test's token and key prefix, unique per test, worker and session."""
    return request.config.stash[_ISOLATION].scope(request.node.nodeid, request.node.name)


@pytest.fixture
def object_store(stack: Stack, conformance_scope: TestScope) -> Iterator[ObjectStoreSandbox]:
    """The stack's object store, confined to this test's prefix (emptied after the test)."""
    sandbox = ObjectStoreSandbox(stack.object_store, conformance_scope.prefix)
    yield sandbox
    sandbox.cleanup()


@pytest.fixture
def stub_dataset(object_store: ObjectStoreSandbox) -> StubDataset:
    """The stub dataset (1000 rows, seed 7), stored in this test's prefix."""
    return store_dataset(object_store)


@pytest.fixture
def stub_model(object_store: ObjectStoreSandbox, conformance_scope: TestScope) -> Iterator[StubModels]:
    """Factory: `stub_model(accuracy=0.89, groups={"a": 0.95, "b": 0.8}, name="churn")` -> a stored model.

    The registry entries of the models it named (registry/<name>/) are removed after the test.
    """
    models = StubModels(object_store, conformance_scope)
    yield models
    for name in models.names:
        object_store.cleanup(f"{REGISTRY_PREFIX}/{name}/")


@pytest.fixture
def serving(stack: Stack) -> Iterator[ServingSandbox]:
    """`stack.serving`, with every deployment this test makes deleted after it."""
    sandbox = ServingSandbox(stack.serving)
    yield sandbox
    sandbox.cleanup()


@pytest.fixture
def gate_policies(object_store: ObjectStoreSandbox, tmp_path: Path) -> GatePolicies:
    """Factory: `gate_policies.write("strict", minImprovement=0.05)` -> another GatePolicy."""
    return GatePolicies(object_store, tmp_path / "policies")


@pytest.fixture
def gate_policy(gate_policies: GatePolicies) -> GatePolicy:
    """The default gate policy (accuracy >= 0.80, +0.01 over the champion, group gap <= 0.05)."""
    return gate_policies.write()
