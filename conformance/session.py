"""The stack one pytest session tests: named by --stack, handed over by the xdist controller, the
running `default` stack, or an ephemeral stack this session starts (once, lazily) and stops at
its end (appliance.conformance.stacks.choose); or a Stack object the calling process hands over
in-process (`GivenStack`)."""

from __future__ import annotations

from appliance import targets
from appliance.conformance import stacks
from appliance.conformance.stacks import StackInfo
from appliance.console import Console
from appliance.errors import ApplianceError
from appliance.stack import Stack


class StackUnavailable(Exception):
    """The stack could not be found or started; the message says why and what to do."""


class GivenStack:
    """A plugin object handing the suite a Stack this process holds: `pytest.main(args,
    plugins=[GivenStack(stack)])` (conformance/plugin.py, "Embedding"). It lives here, not in the
    plugin module, so that importing it does not keep pytest from rewriting the plugin."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack


class StackSession:
    """Resolves the stack on first use and remembers the outcome, failure included."""

    def __init__(
        self, target: str | None, name: str | None, profile: str, told: Console | None = None
    ) -> None:
        self.target = target
        self.name = name
        self.profile = profile
        self._info: StackInfo | None = None
        self._stack: Stack | None = None
        self._error: str | None = None
        # Starting and stopping a stack stay quiet; which stack is tested, and why, goes to `told`.
        self._console = Console(quiet=True)
        self._told = told or self._console

    @classmethod
    def given(cls, stack: Stack) -> StackSession:
        """A session on a Stack this process already holds: nothing is looked up by name, started
        or stopped (the caller owns the stack)."""
        session = cls(stack.target, stack.name, stack.profile.name)
        session._info = StackInfo(stack.name, stack.target, stack.profile.name, ephemeral=False)
        session._stack = stack
        return session

    @property
    def info(self) -> StackInfo:
        """The stack `stacks.choose` picks (attached or started); raises StackUnavailable."""
        if self._error is not None:
            raise StackUnavailable(self._error)
        if self._info is None:
            try:
                self._info = stacks.choose(
                    self.target, self.name, self.profile, self._console, self._told
                )
            except ApplianceError as exc:
                # Remembered: every test then fails with this reason instead of retrying.
                self._error = exc.render()
                raise StackUnavailable(self._error) from exc
        return self._info

    @property
    def started(self) -> bool:
        return self._info is not None

    def stack(self) -> Stack:
        if self._stack is None:
            info = self.info
            try:
                self._stack = targets.get(info.target).stack(info.name)
            except ApplianceError as exc:
                self._error = exc.render()
                raise StackUnavailable(self._error) from exc
        return self._stack

    def close(self) -> None:
        """Stop the stack if this session started it; an attached stack keeps running."""
        if self._info is not None and self._info.ephemeral:
            info, self._info, self._stack = self._info, None, None
            stacks.stop(info, self._console)
