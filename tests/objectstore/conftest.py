"""Fixtures of the object store tests: a real store process shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from store_process import StoreProcess, start_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreProcess]:
    """A store shared by one module's tests (each test uses keys of its own)."""
    started = start_store(tmp_path_factory.mktemp("store"))
    try:
        yield started
    finally:
        started.stop()
