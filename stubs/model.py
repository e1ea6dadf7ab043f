"""Stub models: a versioned JSON artifact whose declared accuracy holds exactly on the stub dataset.

A prediction is a pure function of the artifact and one row of features (see stubs/dataset.py):
the label is the sign of f0; the model answers it correctly when the row's difficulty is at most
the target accuracy t, and answers 1 - label otherwise. Difficulties lie on the exact grid
(2j+1)/(2n), so exactly floor(t*n + 1/2) of n rows are correct: round(t*n), halves rounding up.

- No group accuracies: the difficulty is f3 (overall grid) and t = `accuracy`, so exactly
  round(accuracy * N) of N rows are correct; each group then lands within one row of `accuracy`.
- Group accuracies given: every group must be declared, and `accuracy` must be their
  population-weighted mean under the dataset's split (dataset.SHARES: a 3/5, b 2/5) or be
  omitted (then it is derived). Anything else is refused: a model never silently misses its
  declared accuracy. The difficulty is f2 (each group's own grid) and t is the group's accuracy,
  so each group g is exact, round(t_g * n_g) of its n_g rows. The overall count is their sum:
  when 5 divides N it is within one row of accuracy * N, and exactly that when every t_g * n_g
  is whole (1000 rows, a 0.95, b 0.7 -> 570 + 280 = 850); `expected` computes it for any N.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from stubs import dataset
from stubs import uri as uris
from stubs.errors import BadStubInput, StubError, StubFault

SCHEMA = "stubs.appliance.dev/model/v1"
_FIELDS = (
    "schema",
    "name",
    "version",
    "accuracy",
    "group_accuracy",
    "latency_ms",
    "fail_on_load",
    "fail_on_predict",
)
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # a DNS label, as KServe names are
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")
# Distinct grid fractions with denominators <= 2*MAX_ROWS differ by >= 1/(2*MAX_ROWS)^2, far more
# than a float's rounding error, so limit_denominator recovers a difficulty exactly.
_MAX_DENOMINATOR = 2 * dataset.MAX_ROWS
_NEAR = 1e-9


def _accuracy(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadStubInput(f"{what} must be a number in [0, 1], found {value!r}")
    if not 0.0 <= float(value) <= 1.0:  # also rejects NaN
        raise BadStubInput(f"{what} must be in [0, 1], found {value!r}")
    return float(value)


def _shares() -> str:
    return ", ".join(f"{g} {float(dataset.SHARES[g] * 100):g}%" for g in dataset.GROUPS)


def weighted_accuracy(group_accuracy: dict[str, float]) -> float:
    """The population-weighted mean of per-group accuracies under the split `dataset.SHARES`."""
    return float(sum(dataset.SHARES[g] * _exact_decimal(group_accuracy[g]) for g in dataset.GROUPS))


def _overall_accuracy(accuracy: float | None, groups: dict[str, float]) -> float:
    """The artifact's `accuracy`: as declared, or derived from `groups`; inconsistency is an error."""
    declared = None if accuracy is None else _accuracy(accuracy, "accuracy")
    if not groups:
        if declared is None:
            raise BadStubInput(
                f"accuracy is missing: declare it, or declare group_accuracy for every group "
                f"({', '.join(dataset.GROUPS)}) and accuracy is derived from them"
            )
        return declared
    missing = [g for g in dataset.GROUPS if g not in groups]
    if missing:
        hint = ""
        if declared is not None:
            # What the declarations would have meant had unlisted groups taken `accuracy`.
            filled = {**groups, **dict.fromkeys(missing, declared)}
            pairs = " ".join(f"{g}={filled[g]!r}" for g in dataset.GROUPS)
            hint = f", e.g. {pairs} gives accuracy {weighted_accuracy(filled)!r}"
        raise BadStubInput(
            f"group_accuracy declares {', '.join(sorted(groups))} but not {', '.join(missing)}: "
            f"declare every group ({', '.join(dataset.GROUPS)}) or none; accuracy is then their "
            f"population-weighted mean ({_shares()}){hint}"
        )
    mean = weighted_accuracy(groups)
    if declared is not None and declared != mean:
        pairs = " ".join(f"{g}={groups[g]!r}" for g in dataset.GROUPS)
        raise BadStubInput(
            f"accuracy {declared!r} disagrees with group_accuracy {pairs}: their "
            f"population-weighted mean ({_shares()}) is {mean!r}; declare accuracy {mean!r} "
            "or omit it"
        )
    return mean


def create(
    name: str,
    version: str,
    accuracy: float | None = None,
    group_accuracy: dict[str, float] | None = None,
    latency_ms: int = 0,
    fail_on_load: bool = False,
    fail_on_predict: bool = False,
) -> dict[str, Any]:
    """A validated artifact document (a plain dict, JSON-ready).

    With `group_accuracy`, every group is declared and `accuracy` is their population-weighted
    mean (pass it or leave it None); inconsistent declarations raise BadStubInput.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise BadStubInput(
            f"model name {name!r} is invalid: use lowercase letters, digits and '-' "
            "(a DNS label, up to 63 characters)"
        )
    if not isinstance(version, str) or not _VERSION.match(version):
        raise BadStubInput(
            f"model version {version!r} is invalid: use 1-63 letters, digits, '.', '_', '+', '-'"
        )
    groups: dict[str, float] = {}
    for group, value in sorted((group_accuracy or {}).items()):
        if group not in dataset.GROUPS:
            raise BadStubInput(
                f"group {group!r} is not a stub-dataset group: use one of {', '.join(dataset.GROUPS)}"
            )
        groups[group] = _accuracy(value, f"group accuracy for {group!r}")
    overall = _overall_accuracy(accuracy, groups)
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
        raise BadStubInput(f"latency_ms must be an integer >= 0, found {latency_ms!r}")
    for knob, flag in (("fail_on_load", fail_on_load), ("fail_on_predict", fail_on_predict)):
        if not isinstance(flag, bool):
            raise BadStubInput(f"{knob} must be true or false, found {flag!r}")
    return {
        "schema": SCHEMA,
        "name": name,
        "version": version,
        "accuracy": overall,
        "group_accuracy": groups,
        "latency_ms": latency_ms,
        "fail_on_load": fail_on_load,
        "fail_on_predict": fail_on_predict,
    }


def validate(document: object, source: str = "<artifact>") -> dict[str, Any]:
    """Check a decoded artifact strictly (unknown or missing keys are errors) and normalise it."""
    if not isinstance(document, dict):
        raise BadStubInput(f"{source}: a stub model artifact is a JSON object")
    if document.get("schema") != SCHEMA:
        raise BadStubInput(
            f"{source}: schema must be {SCHEMA!r}, found {document.get('schema')!r}; "
            "create it with `python -m stubs.model create`"
        )
    unknown = sorted(set(document) - set(_FIELDS))
    missing = [f for f in _FIELDS if f not in document]
    if unknown or missing:
        problems = [f"unknown field {f!r}" for f in unknown] + [f"missing {f!r}" for f in missing]
        raise BadStubInput(f"{source}: {'; '.join(problems)}")
    groups = document["group_accuracy"]
    if not isinstance(groups, dict):
        raise BadStubInput(f"{source}: group_accuracy must be an object of group -> accuracy")
    try:
        return create(
            document["name"],
            document["version"],
            document["accuracy"],
            groups,
            document["latency_ms"],
            document["fail_on_load"],
            document["fail_on_predict"],
        )
    except BadStubInput as exc:
        raise BadStubInput(f"{source}: {exc.message}") from exc


def dumps(artifact: dict[str, Any]) -> bytes:
    """Canonical bytes: the same artifact always serialises identically."""
    return (json.dumps(validate(artifact), indent=2, sort_keys=True) + "\n").encode()


def save(artifact: dict[str, Any], uri: str) -> str:
    return uris.write_bytes(uri, dumps(artifact), content_type="application/json")


def read_artifact(uri: str) -> dict[str, Any]:
    """Read and validate an artifact without loading it (fault knobs are not triggered)."""
    data = uris.read_bytes(uri)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadStubInput(f"{uri}: not JSON ({exc})") from exc
    return validate(document, uri)


def _exact_fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(_MAX_DENOMINATOR)


def _exact_decimal(value: float) -> Fraction:
    # The artifact holds decimals (0.83); repr gives the shortest decimal that reads back as the
    # same float, so this is the number the user wrote, not its binary approximation.
    return Fraction(repr(value))


class StubModel:
    """A loaded stub model: `predict` maps rows of FEATURES floats to labels 0/1."""

    def __init__(self, artifact: dict[str, Any]) -> None:
        self.artifact = validate(artifact)
        self.name: str = self.artifact["name"]
        self.version: str = self.artifact["version"]
        self.latency_ms: int = self.artifact["latency_ms"]
        self.fail_on_predict: bool = self.artifact["fail_on_predict"]
        self.accuracy: float = self.artifact["accuracy"]
        self.group_accuracy: dict[str, float] = self.artifact["group_accuracy"]
        self.per_group = bool(self.group_accuracy)
        overall = (self.accuracy, _exact_decimal(self.accuracy))
        # With group accuracies every group is declared (create() refuses anything else).
        self._targets: list[tuple[float, Fraction]] = [
            (self.group_accuracy[g], _exact_decimal(self.group_accuracy[g]))
            for g in dataset.GROUPS
            if self.per_group
        ]
        self._overall = overall

    def __repr__(self) -> str:
        return f"StubModel(name={self.name!r}, version={self.version!r})"

    def _target(self, code: float) -> tuple[float, Fraction]:
        if not self.per_group:
            return self._overall
        index = math.floor(code)
        # Rows outside the stub dataset's group codes use the overall target: still pure.
        return self._targets[index] if 0 <= index < len(self._targets) else self._overall

    def predict_row(self, features: Sequence[float]) -> int:
        if len(features) != dataset.FEATURES:
            raise BadStubInput(
                f"a row has {dataset.FEATURES} features (f0..f{dataset.FEATURES - 1}), found {len(features)}"
            )
        if not all(isinstance(x, int | float) and math.isfinite(x) for x in features):
            raise BadStubInput("features must be finite numbers")
        label = 1 if features[0] > 0 else 0
        approx, exact = self._target(features[1])
        difficulty = float(features[2] if self.per_group else features[3])
        if difficulty < approx - _NEAR:
            correct = True
        elif difficulty > approx + _NEAR:
            correct = False
        else:  # near the threshold: decide with exact rationals, never with float rounding
            correct = _exact_fraction(difficulty) <= exact
        return label if correct else 1 - label

    def predict(self, rows: Iterable[Sequence[float]]) -> list[int]:
        """Labels for rows of features; raises StubFault when the artifact declares it."""
        if self.fail_on_predict:
            raise StubFault(f"model {self.name} version {self.version} declares fail_on_predict")
        return [self.predict_row(row) for row in rows]


def load(uri: str) -> StubModel:
    """Load an artifact; raises StubFault when it declares fail_on_load."""
    return from_artifact(read_artifact(uri))


def from_artifact(artifact: dict[str, Any]) -> StubModel:
    artifact = validate(artifact)
    if artifact["fail_on_load"]:
        raise StubFault(
            f"model {artifact['name']} version {artifact['version']} declares fail_on_load: refusing to load"
        )
    return StubModel(artifact)


def _score(correct: int, total: int) -> dict[str, Any]:
    return {"rows": total, "accuracy": correct / total if total else 0.0}


def evaluate(model: StubModel, rows: Sequence[dataset.Row]) -> dict[str, Any]:
    """`{"rows": n, "accuracy": a, "groups": {g: {"rows": n, "accuracy": a}}}` on labelled rows."""
    predictions = model.predict([row.features for row in rows])
    correct = 0
    per_group: dict[str, list[int]] = {}
    for row, predicted in zip(rows, predictions, strict=True):
        hit = int(predicted == row.label)
        correct += hit
        tally = per_group.setdefault(row.group, [0, 0])
        tally[0] += hit
        tally[1] += 1
    return {
        **_score(correct, len(rows)),
        "groups": {g: _score(c, n) for g, (c, n) in sorted(per_group.items())},
    }


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def expected(artifact: dict[str, Any], rows: int) -> dict[str, Any]:
    """What `evaluate` reports on any stub dataset of `rows` rows, computed from the design alone."""
    artifact = validate(artifact)
    sizes = dataset.group_sizes(rows)
    overall = _exact_decimal(artifact["accuracy"])
    if artifact["group_accuracy"]:
        counts = {
            g: _round_half_up(_exact_decimal(artifact["group_accuracy"][g]) * n) for g, n in sizes.items()
        }
        return {
            **_score(sum(counts.values()), rows),
            "groups": {g: _score(counts[g], n) for g, n in sizes.items()},
        }
    correct = _round_half_up(overall * rows)
    # The overall grid is sorted by group difficulty (ties by group order), so the first `correct`
    # rows hold every group's easiest rows: count grid points of each group among them.
    points = sorted((Fraction(2 * j + 1, 2 * n), gi) for gi, n in enumerate(sizes.values()) for j in range(n))
    taken = [0] * len(sizes)
    for _, gi in points[:correct]:
        taken[gi] += 1
    return {
        **_score(correct, rows),
        "groups": {g: _score(taken[gi], n) for gi, (g, n) in enumerate(sizes.items())},
    }


def _group_pair(text: str) -> tuple[str, float]:
    group, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: use GROUP=ACCURACY, like a=0.9")
    try:
        return group, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stubs.model", description="Create or evaluate stub models."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="write a stub model artifact")
    make.add_argument("--name", required=True)
    make.add_argument("--version", required=True)
    make.add_argument(
        "--accuracy",
        type=float,
        default=None,
        help="overall accuracy; with --group-accuracy it must be their weighted mean, or omitted",
    )
    make.add_argument(
        "--group-accuracy",
        type=_group_pair,
        nargs="+",
        action="extend",
        default=[],
        metavar="GROUP=ACCURACY",
    )
    make.add_argument("--latency-ms", type=int, default=0)
    make.add_argument("--fail-on-load", action="store_true")
    make.add_argument("--fail-on-predict", action="store_true")
    make.add_argument("--out", required=True, help="local path or s3://bucket/key")
    score = commands.add_parser("evaluate", help="print the model's accuracy on a dataset as JSON")
    score.add_argument("--model", required=True, help="artifact: local path or s3://bucket/key")
    score.add_argument("--data", required=True, help="stub dataset CSV: path or s3://bucket/key")
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            groups = dict(args.group_accuracy)
            if len(groups) != len(args.group_accuracy):
                raise BadStubInput("--group-accuracy names a group twice")
            artifact = create(
                args.name,
                args.version,
                args.accuracy,
                groups,
                args.latency_ms,
                args.fail_on_load,
                args.fail_on_predict,
            )
            print(save(artifact, args.out))
        else:
            rows = dataset.read(args.data)
            print(json.dumps(evaluate(load(args.model), rows)))
    except StubError as exc:
        return exc.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
