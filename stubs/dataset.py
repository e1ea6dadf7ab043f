"""The stub dataset: deterministic tabular binary classification with a protected group column.

Every value derives from BLAKE2b hashes of (name, seed, purpose, row id), so the bytes are the
same on every machine and in every process (no `hash()` salt, no numpy, no `random` internals).

Columns: `id,f0,f1,f2,f3,group,label`.

- `f0` signal: its sign is the label (label 1 -> f0 in [0.25, 1.0], label 0 -> f0 in [-1.0, -0.25]).
- `f1` group code: `floor(f1)` is the index of the row's group in `GROUPS`.
- `f2` group difficulty: within group g of n_g rows, the rows carry (2j+1)/(2 n_g) for
  j = 0..n_g-1, each value once, in a seeded order (an exact quantile grid per group).
- `f3` overall difficulty: the same grid over all N rows, (2r+1)/(2N); the order r sorts rows by
  `f2` (ties by group), so a threshold on `f3` takes every group's rows in proportion.

Group sizes are exact: group "b" has floor(2N/5) rows and "a" the rest (see `group_sizes`).
A stub model recovers the label, the group and the difficulty from the features alone; that is
what lets it hit a declared accuracy exactly (see stubs/model.py and docs/stubs.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import re
import sys
from dataclasses import dataclass
from fractions import Fraction

from stubs import uri as uris
from stubs.errors import BadStubInput, StubError

FEATURES = 4
GROUPS: tuple[str, ...] = ("a", "b")
# The documented group split: b is 2/5 of the rows, a the rest (exact whenever 5 divides N).
SHARES: dict[str, Fraction] = {"a": Fraction(3, 5), "b": Fraction(2, 5)}
MIN_ROWS = 3  # every group must have at least one row
# Difficulties are fractions with denominators up to 2*MAX_ROWS; keeping them below ~4.7e7 is
# what lets a model recover them exactly from a float (see stubs.model._exact_fraction).
MAX_ROWS = 1_000_000
HEADER: tuple[str, ...] = ("id", *(f"f{k}" for k in range(FEATURES)), "group", "label")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Row:
    id: int
    features: tuple[float, ...]
    group: str
    label: int


def group_sizes(rows: int) -> dict[str, int]:
    """Exact rows per group for a dataset of `rows` rows: b = floor(2*rows/5), a = the rest."""
    b = math.floor(SHARES["b"] * rows)
    return {"a": rows - b, "b": b}


def _validate(name: str, rows: int, seed: int) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadStubInput(f"dataset name {name!r} is invalid: use 1-63 letters, digits, '.', '_' or '-'")
    if isinstance(rows, bool) or not isinstance(rows, int) or not MIN_ROWS <= rows <= MAX_ROWS:
        raise BadStubInput(f"rows={rows!r} is out of range: use an integer {MIN_ROWS}..{MAX_ROWS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadStubInput(f"seed={seed!r} is invalid: use an integer >= 0")


def _digest(name: str, seed: int, purpose: str, row: int, size: int) -> bytes:
    return hashlib.blake2b(f"{name}\x00{seed}\x00{purpose}\x00{row}".encode(), digest_size=size).digest()


def _key(name: str, seed: int, purpose: str, row: int) -> int:
    return int.from_bytes(_digest(name, seed, purpose, row, 8), "big")


def _unit(key: int) -> float:
    """A float in [0, 1) from the top 53 bits of a 64-bit key: exact, platform independent."""
    return (key >> 11) / float(1 << 53)


def rows_of(name: str, rows: int, seed: int) -> list[Row]:
    """The dataset as typed rows (what `read` returns after a round trip through CSV)."""
    _validate(name, rows, seed)
    sizes = group_sizes(rows)
    by_group_key = sorted(range(rows), key=lambda i: _key(name, seed, "group", i))
    group_of: list[int] = [0] * rows
    start = 0
    members: list[list[int]] = []
    for index, group in enumerate(GROUPS):
        chosen = by_group_key[start : start + sizes[group]]
        start += sizes[group]
        for i in chosen:
            group_of[i] = index
        # Rank within the group: a seeded permutation of 0..n_g-1.
        members.append(sorted(chosen, key=lambda i: _key(name, seed, "rank", i)))
    rank_of: list[int] = [0] * rows
    for group_members in members:
        for j, i in enumerate(group_members):
            rank_of[i] = j

    # Sort by group difficulty (2j+1)/(2n_g) with exact integers: scale every grid to the
    # common denominator `product` (floats could tie or misorder neighbours).
    product = math.prod(sizes.values())
    scale = [product // sizes[g] for g in GROUPS]
    overall_order = sorted(
        range(rows), key=lambda i: ((2 * rank_of[i] + 1) * scale[group_of[i]], group_of[i])
    )
    overall_rank: list[int] = [0] * rows
    for r, i in enumerate(overall_order):
        overall_rank[i] = r

    result = []
    for i in range(rows):
        values = _digest(name, seed, "row", i, 16)
        signal, code = (int.from_bytes(values[k : k + 8], "big") for k in (0, 8))
        label = signal & 1
        magnitude = round(0.25 + 0.75 * _unit(signal), 6)
        f0 = magnitude if label else -magnitude
        f1 = round(group_of[i] + 0.5 * _unit(code), 6)
        # int / int is correctly rounded: the nearest float to the exact grid point.
        f2 = (2 * rank_of[i] + 1) / (2 * sizes[GROUPS[group_of[i]]])
        f3 = (2 * overall_rank[i] + 1) / (2 * rows)
        result.append(Row(i, (f0, f1, f2, f3), GROUPS[group_of[i]], label))
    return result


def generate(name: str, rows: int, seed: int) -> bytes:
    """The dataset as CSV bytes (LF line ends, floats in shortest round-trip form)."""
    out = io.StringIO()
    out.write(",".join(HEADER) + "\n")
    for row in rows_of(name, rows, seed):
        features = ",".join(repr(x) for x in row.features)
        out.write(f"{row.id},{features},{row.group},{row.label}\n")
    return out.getvalue().encode("ascii")


def write(uri: str, name: str, rows: int, seed: int) -> str:
    """Generate the dataset and write it at `uri` (local path or s3://bucket/key); return `uri`."""
    return uris.write_bytes(uri, generate(name, rows, seed), content_type="text/csv")


def parse(data: bytes, source: str = "<data>") -> list[Row]:
    """Parse stub-dataset CSV; errors name the source, the line and the field."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadStubInput(f"{source}: not a stub dataset (non-ASCII byte at {exc.start})") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != HEADER:
        raise BadStubInput(
            f"{source}: line 1: header must be {','.join(HEADER)}; "
            "write the data with `python -m stubs.dataset`"
        )
    result: list[Row] = []
    for line, fields in enumerate(reader, start=2):
        if len(fields) != len(HEADER):
            raise BadStubInput(f"{source}: line {line}: expected {len(HEADER)} fields, found {len(fields)}")
        try:
            row_id = int(fields[0])
            features = tuple(float(x) for x in fields[1 : 1 + FEATURES])
            label = int(fields[-1])
        except ValueError as exc:
            raise BadStubInput(f"{source}: line {line}: {exc}") from exc
        group = fields[-2]
        if group not in GROUPS:
            raise BadStubInput(f"{source}: line {line}: group {group!r} is not one of {GROUPS}")
        if label not in (0, 1):
            raise BadStubInput(f"{source}: line {line}: label must be 0 or 1, found {label}")
        result.append(Row(row_id, features, group, label))
    if not result:
        raise BadStubInput(f"{source}: the dataset has no rows")
    return result


def read(uri: str) -> list[Row]:
    """Read a stub dataset from a local path or an s3:// URI."""
    return parse(uris.read_bytes(uri), uri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stubs.dataset", description="Write the deterministic stub dataset as CSV."
    )
    parser.add_argument("--name", required=True, help="dataset name (part of every row's seed)")
    parser.add_argument("--rows", required=True, type=int, help=f"{MIN_ROWS}..{MAX_ROWS}")
    parser.add_argument("--seed", required=True, type=int, help="integer >= 0")
    parser.add_argument("--out", required=True, help="local path or s3://bucket/key")
    args = parser.parse_args(argv)
    try:
        write(args.out, args.name, args.rows, args.seed)
    except StubError as exc:
        return exc.report()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
