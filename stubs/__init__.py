"""Deterministic stub dataset, models, trainer and model server: the conformance suite's instruments."""

from stubs.errors import StubError

__all__ = ["StubError"]
