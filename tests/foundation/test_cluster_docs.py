"""docs/clusters.md stays in step with the CLI: every command and option it names exists, and every
page it links to exists."""

from __future__ import annotations

import re
from pathlib import Path

import click

from appliance.cli import COMMANDS, load_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "clusters.md"


def _options(command: click.Command) -> set[str]:
    found = {opt for param in command.params for opt in getattr(param, "opts", [])}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= _options(sub)
    return found


def test_every_option_the_page_names_exists() -> None:
    text = DOC.read_text()
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
    known = set().union(*(_options(load_command(name)) for name in COMMANDS))
    assert named and named <= known, sorted(named - known)


def test_every_command_the_page_names_exists() -> None:
    text = DOC.read_text()
    named = set(re.findall(r"`appliance ([a-z]+)", text)) | set(re.findall(r"^\| `([a-z]+)", text, re.M))
    assert named and named <= set(COMMANDS), sorted(named - set(COMMANDS))


def test_every_linked_page_and_anchor_exists() -> None:
    for page, anchor in re.findall(r"\]\(([a-z-]+\.md)(?:#([a-z0-9-]+))?\)", DOC.read_text()):
        target = DOC.parent / page
        assert target.is_file(), page
        if anchor:
            slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                     for h in re.findall(r"^#+ (.+)$", target.read_text(), re.M)}
            assert anchor in slugs, (page, anchor)
