"""Kubernetes LabelSelector matching (matchLabels and matchExpressions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appliance.k8s.data import as_dict, as_list


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a LabelSelector selects `labels`; None or {} selects everything. Values compare as
    text, and a malformed selector part (not a mapping or list) reads as empty."""
    selector = as_dict(selector)
    for key, value in as_dict(selector.get("matchLabels")).items():
        if key not in labels or str(labels[key]) != str(value):
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        key, op = str(expr.get("key")), expr.get("operator")
        values = {str(v) for v in as_list(expr.get("values"))}
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
