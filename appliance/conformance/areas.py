"""The conformance areas: their report names, their test modules in the suite, and where it lives."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import BadInput, MissingPrerequisite


@dataclass(frozen=True)
class Area:
    """One area of the suite: the name reports use and the module that holds its tests."""

    name: str
    module: str


AREAS: tuple[Area, ...] = (
    Area("object-store", "test_object_store.py"),
    Area("pipelines", "test_pipelines.py"),
    Area("tuning", "test_tuning.py"),
    Area("serving", "test_serving.py"),
    Area("promotion", "test_promotion.py"),
)
AREA_NAMES: tuple[str, ...] = tuple(area.name for area in AREAS)
_BY_MODULE = {area.module: area.name for area in AREAS}


def select(names: Iterable[str]) -> tuple[Area, ...]:
    """The areas named, in suite order; all of them when none is named."""
    wanted = list(names)
    unknown = [name for name in wanted if name not in AREA_NAMES]
    if unknown:
        raise BadInput(
            f"unknown conformance area {', '.join(map(repr, unknown))}",
            f"areas: {', '.join(AREA_NAMES)}",
            "pass --area with one of those names (repeat it for several)",
        )
    return tuple(area for area in AREAS if not wanted or area.name in wanted)


def area_of(path: str) -> str | None:
    """The area a test file or node id belongs to (by its module's file name)."""
    module = path.split("::", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]
    return _BY_MODULE.get(module)


def suite_dir() -> Path:
    """Where the shipped suite is installed (the `conformance` package)."""
    spec = importlib.util.find_spec("conformance")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPrerequisite(
            "the conformance suite is not installed",
            "the `conformance` package is missing from this environment",
            "reinstall the appliance (make install, or pip install -e .)",
        )
    return Path(list(spec.submodule_search_locations)[0])
