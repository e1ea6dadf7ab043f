"""Report formats over one result model: text (default), markdown, json, sarif."""

from __future__ import annotations

from collections.abc import Callable

from appliance.review.model import Report

FORMATS = ("text", "markdown", "json", "sarif")


def render(report: Report, fmt: str) -> str:
    from appliance.review.formats import json, markdown, sarif, text

    renderers: dict[str, Callable[[Report], str]] = {
        "text": text.render, "markdown": markdown.render, "json": json.render,
        "sarif": sarif.render,
    }
    return renderers[fmt](report)
