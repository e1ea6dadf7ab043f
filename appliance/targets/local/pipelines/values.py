"""Parameter values as a KFP cluster hands them to a task, applied to what kfp.local hands over.

kfp.local keeps every number as a protobuf double and gives it back as a Python float: only an
input declared `int` is turned back into an int. So 12 reached tasks as 12.0 inside lists,
structs and the exit handler's status, in f-strings ("n=12.0"), and in `str` inputs fed by a
loop over numbers (a float where the component declared str). A cluster's backend is written in
Go: it writes whole numbers without a fraction (12, not 12.0), and turns any value bound to a
STRING input into text first (its PbValueToText). The same rules are applied here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# Inputs whose value stays as kfp.local gives it: a double stays a float (kfp's executor
# accepts int or float for `float`), a bool a bool, an int is already an int.
_UNCHANGED = frozenset({"NUMBER_DOUBLE", "BOOLEAN"})


def delivered(values: Mapping[str, Any], declared: Mapping[str, str]) -> dict[str, Any]:
    """A task's parameter values, given the type each input declares (ParameterTypeEnum
    names). Undeclared values are the channels of f-strings: they are used only as text."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        kind = declared.get(name)
        if kind in _UNCHANGED or value is None:
            result[name] = value
        elif kind is None or kind == "STRING":
            result[name] = value if isinstance(value, str) else as_text(value)
        else:  # NUMBER_INTEGER, LIST, STRUCT, TASK_FINAL_STATUS (error.code) ...
            result[name] = whole_numbers(value)
    return result


def whole_numbers(value: Any) -> Any:
    """Floats without a fraction become ints, inside lists and dicts too (bools stay bools)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    return value


def as_text(value: Any) -> str:
    """A value as the text a cluster substitutes for it: numbers in plain decimal notation
    without a trailing .0, booleans as true/false, lists and structs as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _decimal(value)
    if isinstance(value, list | dict):
        return json.dumps(whole_numbers(value), separators=(",", ":"))
    return str(value)


def _decimal(number: float) -> str:
    if isinstance(number, int) or number.is_integer():
        return str(int(number))
    # Shortest round-trip digits, never in exponent notation (Go's FormatFloat 'f', -1).
    return format(Decimal(repr(number)), "f")
