"""Parameter values delivered as a cluster delivers them (pure rules, no run)."""

from __future__ import annotations

import pytest

from appliance.targets.local.pipelines.values import as_text, delivered, whole_numbers


def test_whole_numbers_become_ints_everywhere_but_bools_stay() -> None:
    assert whole_numbers([1.0, 2.5, {"a": 3.0, "b": [True, 4.0]}, "5.0"]) == [
        1, 2.5, {"a": 3, "b": [True, 4]}, "5.0"]
    assert type(whole_numbers([1.0])[0]) is int and whole_numbers(True) is True


@pytest.mark.parametrize(
    ("value", "text"),
    [(12.0, "12"), (12, "12"), (0.5, "0.5"), (1e-7, "0.0000001"), (1e21, "1000000000000000000000"),
     (-3.0, "-3"), (True, "true"), (False, "false"), (None, ""), ("x", "x"),
     ([1.0, {"a": 2.0}], '[1,{"a":2}]')],
)
def test_text_as_a_cluster_substitutes_it(value: object, text: str) -> None:
    assert as_text(value) == text


def test_each_input_by_its_declared_type() -> None:
    values = {"i": 12, "d": 2.0, "b": True, "s": 12.0, "l": [1.0, 0.5], "st": {"k": 1.0},
              "status": {"state": "FAILED", "error": {"code": 1.0, "message": "m"}},
              "pipelinechannel--n": 3.0, "none": None, "text": "a"}
    declared = {"i": "NUMBER_INTEGER", "d": "NUMBER_DOUBLE", "b": "BOOLEAN", "s": "STRING",
                "l": "LIST", "st": "STRUCT", "status": "TASK_FINAL_STATUS", "none": "STRING",
                "text": "STRING"}
    assert delivered(values, declared) == {
        "i": 12, "d": 2.0, "b": True, "s": "12", "l": [1, 0.5], "st": {"k": 1},
        "status": {"state": "FAILED", "error": {"code": 1, "message": "m"}},
        "pipelinechannel--n": "3", "none": None, "text": "a"}
    assert type(delivered({"d": 2.0}, {"d": "NUMBER_DOUBLE"})["d"]) is float
