"""Kubernetes resource quantities (CPU and memory) as numbers, for comparisons and sums."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}


def parse(quantity: str | int | float) -> Decimal:
    """A quantity in base units (cores for CPU, bytes for memory); ValueError if malformed."""
    text = str(quantity).strip()
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return _number(text[: -len(suffix)], quantity) * factor
    for suffix in ("n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if text.endswith(suffix):
            return _number(text[:-1], quantity) * _DECIMAL[suffix]
    return _number(text, quantity)


def _number(text: str, original: object) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a Kubernetes quantity: {original!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a Kubernetes quantity: {original!r}")
    return value


def mebibytes(quantity: str) -> float:
    return float(parse(quantity) / 2**20)


def millicores(quantity: str) -> float:
    return float(parse(quantity) * 1000)
