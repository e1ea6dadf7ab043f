"""docs/object-store.md matches the tests: the s3-tests cases it lists as differing from S3 are
exactly the strict xfails of test_s3_tests_basic.py, and the counts it gives are the real ones."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "object-store.md"


def basic_cases() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("s3_tests_basic", HERE / "test_s3_tests_basic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: value for name, value in vars(module).items() if name.startswith("test_")}


def marks(function: Any, name: str) -> list[Any]:
    return [mark for mark in getattr(function, "pytestmark", []) if mark.name == name]


def test_the_listed_differences_are_the_strict_xfails() -> None:
    cases = basic_cases()
    xfails = {name: marks(fn, "xfail")[0] for name, fn in cases.items() if marks(fn, "xfail")}
    assert all(mark.kwargs["strict"] for mark in xfails.values())
    listed = re.findall(r"^\| `(test_\w+)` \|.*\| (\w+) \|$", DOC.read_text(), re.M)
    whose = {name: mark.kwargs["reason"].split(":")[0] for name, mark in xfails.items()}
    assert sorted(listed) == sorted(whose.items())

    runs = sum(len(marks(fn, "parametrize")[0].args[1]) if marks(fn, "parametrize") else 1
               for fn in cases.values())
    text = " ".join(DOC.read_text().split())
    assert f"reproduces {runs} basic bucket and object cases" in text
    assert f"{runs - len(xfails)} pass;" in text
