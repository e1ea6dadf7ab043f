"""Stub dataset and stub model: exact accuracy, per-row purity, strict artifacts, fault knobs."""

from __future__ import annotations

import hashlib
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest

from stubs import dataset, model
from stubs.errors import BadStubInput, StubFault


def correct_count(accuracy: str, n: int) -> int:
    """round(accuracy * n) with halves up, computed on the decimal as written."""
    return math.floor(Fraction(accuracy) * n + Fraction(1, 2))


@pytest.fixture(scope="module")
def rows_1000() -> list[dataset.Row]:
    return dataset.parse(dataset.generate("demo", 1000, 7))


def test_csv_header_and_shape() -> None:
    text = dataset.generate("demo", 10, 1).decode()
    lines = text.splitlines()
    assert lines[0] == "id,f0,f1,f2,f3,group,label"
    assert len(lines) == 11 and text.endswith("\n") and "\r" not in text
    assert dataset.FEATURES == 4


def test_same_arguments_same_bytes_and_different_seed_differs() -> None:
    assert dataset.generate("demo", 500, 7) == dataset.generate("demo", 500, 7)
    assert dataset.generate("demo", 500, 7) != dataset.generate("demo", 500, 8)
    assert dataset.generate("demo", 500, 7) != dataset.generate("other", 500, 7)


def test_golden_digest_pins_the_bytes() -> None:
    # Pinned so that a change to the generator (or a platform difference) cannot go unnoticed.
    digest = hashlib.sha256(dataset.generate("demo", 200, 1)).hexdigest()
    assert digest == GOLDEN_DEMO_200_1


def test_groups_sizes_labels_and_grids(rows_1000: list[dataset.Row]) -> None:
    assert dataset.group_sizes(1000) == {"a": 600, "b": 400}
    by_group: dict[str, list[dataset.Row]] = {}
    for row in rows_1000:
        by_group.setdefault(row.group, []).append(row)
        assert (row.features[0] > 0) == (row.label == 1)
        assert dataset.GROUPS[math.floor(row.features[1])] == row.group
    assert {g: len(r) for g, r in by_group.items()} == {"a": 600, "b": 400}
    for members in by_group.values():
        n = len(members)
        assert sorted(r.features[2] for r in members) == [(2 * j + 1) / (2 * n) for j in range(n)]
    assert sorted(r.features[3] for r in rows_1000) == [(2 * j + 1) / 2000 for j in range(1000)]
    # Pinned like the golden digest: the label bits of ("demo", 1000 rows, seed 7).
    assert sum(r.label for r in rows_1000) == 509
    assert [r.id for r in rows_1000] == list(range(1000))


def test_write_read_roundtrip_local(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "data.csv"
    assert dataset.write(str(target), "demo", 50, 3) == str(target)
    assert target.read_bytes() == dataset.generate("demo", 50, 3)
    assert dataset.read(str(target)) == dataset.rows_of("demo", 50, 3)


@pytest.mark.parametrize(
    ("name", "rows", "seed", "fragment"),
    [("", 10, 1, "name"), ("a b", 10, 1, "name"), ("d", 2, 1, "rows"), ("d", 10, -1, "seed")],
)
def test_bad_dataset_arguments(name: str, rows: int, seed: int, fragment: str) -> None:
    with pytest.raises(BadStubInput, match=fragment):
        dataset.generate(name, rows, seed)


def test_read_rejects_foreign_csv(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(BadStubInput, match=r"x.csv: line 1: header must be id,f0"):
        dataset.read(str(path))
    path.write_text("id,f0,f1,f2,f3,group,label\n0,1,0.2,0.5,0.5,z,1\n")
    with pytest.raises(BadStubInput, match=r"line 2: group 'z'"):
        dataset.read(str(path))
    with pytest.raises(BadStubInput, match="cannot read"):
        dataset.read(str(tmp_path / "missing.csv"))


@pytest.mark.parametrize("accuracy", ["0.83", "0.5", "0.0", "1.0", "0.95", "0.1234", "0.8335"])
def test_overall_accuracy_is_exact(rows_1000: list[dataset.Row], accuracy: str) -> None:
    stub = model.from_artifact(model.create("m", "1", float(accuracy)))
    result = model.evaluate(stub, rows_1000)
    assert result["rows"] == 1000
    assert result["accuracy"] == correct_count(accuracy, 1000) / 1000
    assert result == model.expected(stub.artifact, 1000)


def test_worked_example_083_on_1000_rows(rows_1000: list[dataset.Row]) -> None:
    stub = model.from_artifact(model.create("m", "1", 0.83))
    predictions = stub.predict([r.features for r in rows_1000])
    assert sum(p == r.label for p, r in zip(predictions, rows_1000, strict=True)) == 830


@pytest.mark.parametrize("rows", [3, 7, 10, 11, 333, 1001])
@pytest.mark.parametrize("accuracy", ["0.05", "0.15", "0.25", "0.35", "0.45", "0.55", "0.85"])
def test_exact_on_any_row_count_including_half_cases(rows: int, accuracy: str) -> None:
    data = dataset.rows_of("any", rows, 2)
    overall = model.evaluate(model.from_artifact(model.create("m", "1", float(accuracy))), data)
    assert round(overall["accuracy"] * rows) == correct_count(accuracy, rows)
    grouped = model.from_artifact(model.create("m", "1", None, {"a": float(accuracy), "b": 0.35}))
    result = model.evaluate(grouped, data)
    sizes = dataset.group_sizes(rows)
    assert result["groups"] == {
        "a": {"rows": sizes["a"], "accuracy": correct_count(accuracy, sizes["a"]) / sizes["a"]},
        "b": {"rows": sizes["b"], "accuracy": correct_count("0.35", sizes["b"]) / sizes["b"]},
    }


@pytest.mark.parametrize(
    ("declared", "groups", "overall"),
    [
        # a: 600 rows, b: 400 rows; accuracy is the weighted mean 0.6 * 0.95 + 0.4 * 0.7.
        ("0.85", {"a": "0.95", "b": "0.7"}, 0.85),
        (None, {"a": "0.95", "b": "0.7"}, 0.85),  # omitted: derived, (570 + 280) / 1000
        (None, {"a": "0.8", "b": "0.85"}, 0.82),  # (480 + 340) / 1000
        ("0.9", {"a": "0.9", "b": "0.9"}, 0.9),
    ],
)
def test_group_accuracies_are_exact_and_overall_is_their_weighted_mean(
    rows_1000: list[dataset.Row], declared: str | None, groups: dict[str, str], overall: float
) -> None:
    accuracy = None if declared is None else float(declared)
    artifact = model.create("m", "1", accuracy, {g: float(a) for g, a in groups.items()})
    assert artifact["accuracy"] == overall
    result = model.evaluate(model.from_artifact(artifact), rows_1000)
    assert result["accuracy"] == overall
    for group, n in (("a", 600), ("b", 400)):
        assert result["groups"][group] == {"rows": n, "accuracy": correct_count(groups[group], n) / n}
    assert result == model.expected(artifact, 1000)


SHARES = "population-weighted mean (a 60%, b 40%)"


@pytest.mark.parametrize(
    ("accuracy", "groups", "message"),
    [
        (
            0.83,
            {"a": 0.95, "b": 0.7},
            f"accuracy 0.83 disagrees with group_accuracy a=0.95 b=0.7: their {SHARES} is 0.85; "
            "declare accuracy 0.85 or omit it",
        ),
        (
            0.9,
            {"b": 0.85},
            "group_accuracy declares b but not a: declare every group (a, b) or none; accuracy is "
            f"then their {SHARES}, e.g. a=0.9 b=0.85 gives accuracy 0.88",
        ),
        (
            None,
            {"a": 0.9},
            "group_accuracy declares a but not b: declare every group (a, b) or none; accuracy is "
            f"then their {SHARES}",
        ),
        (
            None,
            None,
            "accuracy is missing: declare it, or declare group_accuracy for every group (a, b) "
            "and accuracy is derived from them",
        ),
    ],
)
def test_inconsistent_accuracy_declarations_are_refused(
    accuracy: float | None, groups: dict[str, float] | None, message: str
) -> None:
    with pytest.raises(BadStubInput) as refused:
        model.create("m", "1", accuracy, groups)
    assert refused.value.message == message
    assert refused.value.exit_code == 2


def test_a_stored_inconsistent_artifact_is_refused_on_load(tmp_path: Path) -> None:
    # An artifact written before declarations were checked (or edited by hand) cannot load.
    path = tmp_path / "old.json"
    document = model.create("m", "1", None, {"a": 0.95, "b": 0.7})
    path.write_text(json.dumps({**document, "accuracy": 0.9}))
    with pytest.raises(BadStubInput, match=r"old.json: accuracy 0.9 disagrees .* is 0.85;"):
        model.load(str(path))


def test_declared_accuracy_holds_for_every_two_decimal_group_pair_on_1000_rows() -> None:
    # t * 600 and t * 400 are whole for two-decimal t, so the overall is exactly the weighted mean.
    for a in range(0, 101, 3):
        for b in range(0, 101, 7):
            artifact = model.create("m", "1", None, {"a": a / 100, "b": b / 100})
            assert model.expected(artifact, 1000)["accuracy"] == artifact["accuracy"], (a, b)
            assert round(artifact["accuracy"] * 1000) == 6 * a + 4 * b


@pytest.mark.parametrize("rows", [3, 5, 7, 11, 15, 35, 100, 333, 335, 1001, 1005])
def test_grouped_overall_is_within_one_row_of_the_weighted_mean_when_5_divides_n(rows: int) -> None:
    # Two groups round by at most half a row each; an uneven split (5 not dividing N) adds < 0.8.
    bound = 1 if rows % 5 == 0 else Fraction(9, 5)
    pairs = [("0.123", "0.877"), ("0.95", "0.7"), ("0.5", "0.5"), ("0.999", "0.001"), ("0.45", "0.55")]
    for a, b in pairs:
        artifact = model.create("m", "1", None, {"a": float(a), "b": float(b)})
        correct = round(model.expected(artifact, rows)["accuracy"] * rows)
        target = (Fraction(3, 5) * Fraction(a) + Fraction(2, 5) * Fraction(b)) * rows
        assert abs(correct - target) <= bound, (rows, a, b)


def test_overall_only_model_is_fair_within_one_row(rows_1000: list[dataset.Row]) -> None:
    result = model.evaluate(model.from_artifact(model.create("m", "1", 0.777)), rows_1000)
    assert result["accuracy"] == 0.777
    assert result["groups"] == {
        "a": {"rows": 600, "accuracy": 466 / 600},
        "b": {"rows": 400, "accuracy": 311 / 400},
    }


def test_prediction_is_per_row_pure(rows_1000: list[dataset.Row]) -> None:
    stub = model.from_artifact(model.create("m", "1", None, {"a": 0.7, "b": 0.4}))
    features = [r.features for r in rows_1000]
    together = stub.predict(features)
    alone = [stub.predict([f])[0] for f in reversed(features)][::-1]
    assert together == alone


def test_artifact_save_load_is_canonical_and_strict(tmp_path: Path) -> None:
    artifact = model.create("churn", "2", 0.9, {"a": 0.91, "b": 0.885}, latency_ms=5)
    path = tmp_path / "m.json"
    model.save(artifact, str(path))
    assert json.loads(path.read_text()) == {
        "schema": model.SCHEMA,
        "name": "churn",
        "version": "2",
        "accuracy": 0.9,
        "group_accuracy": {"a": 0.91, "b": 0.885},
        "latency_ms": 5,
        "fail_on_load": False,
        "fail_on_predict": False,
    }
    loaded = model.load(str(path))
    assert (loaded.name, loaded.version, loaded.latency_ms) == ("churn", "2", 5)
    document = json.loads(path.read_text())
    document["extra"] = 1
    path.write_text(json.dumps(document))
    with pytest.raises(BadStubInput, match=r"m.json: unknown field 'extra'"):
        model.load(str(path))
    path.write_text("{nope")
    with pytest.raises(BadStubInput, match="not JSON"):
        model.load(str(path))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "Bad_Name"}, "model name"),
        ({"version": ""}, "version"),
        ({"accuracy": 1.5}, r"accuracy must be in \[0, 1\]"),
        ({"accuracy": float("nan")}, "accuracy"),
        ({"group_accuracy": {"c": 0.5}}, "group 'c' is not a stub-dataset group"),
        ({"group_accuracy": {"a": -0.1}}, "group accuracy for 'a'"),
        ({"latency_ms": -1}, "latency_ms"),
    ],
)
def test_create_rejects_bad_declarations(kwargs: dict[str, object], fragment: str) -> None:
    arguments: dict[str, object] = {"name": "m", "version": "1", "accuracy": 0.9, **kwargs}
    with pytest.raises(BadStubInput, match=fragment):
        model.create(**arguments)  # type: ignore[arg-type]


def test_fault_knobs(tmp_path: Path) -> None:
    path = str(tmp_path / "m.json")
    model.save(model.create("m", "1", 0.9, fail_on_load=True), path)
    with pytest.raises(StubFault, match="declares fail_on_load"):
        model.load(path)
    model.save(model.create("m", "1", 0.9, fail_on_predict=True), path)
    loaded = model.load(path)
    with pytest.raises(StubFault, match="declares fail_on_predict"):
        loaded.predict([[0.5, 0.2, 0.5, 0.5]])


def test_predict_rejects_wrong_width_and_non_finite() -> None:
    stub = model.from_artifact(model.create("m", "1", 0.9))
    with pytest.raises(BadStubInput, match="a row has 4 features"):
        stub.predict([[1.0, 2.0]])
    with pytest.raises(BadStubInput, match="finite"):
        stub.predict([[float("nan"), 0.0, 0.5, 0.5]])
    # Any finite row outside the dataset still gets a defined answer.
    assert stub.predict([[1.0, 7.0, 0.5, 0.5], [-3.0, -1.0, 2.0, 2.0]]) == [1, 1]


GOLDEN_DEMO_200_1 = "17e232dae038fb1351214fe3aa53184bab760df1a2d426eeb97ea3457e1536f8"
