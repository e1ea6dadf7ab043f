"""GitHub Actions files as the tests read them: YAML 1.2 (`on` stays a key), the JSON schemas that
check-jsonschema vendors, `uses:` references with their version comments, and the appliance/make
command lines inside `run:` scripts."""

from __future__ import annotations

import importlib.resources
import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from checkout import REPO_ROOT
from ruamel.yaml import YAML

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = REPO_ROOT / "action.yml"
SHELL_OPERATORS = {"||", "&&", ";", "|", "\\"}


def load(source: Path | str) -> dict[str, Any]:
    """One YAML document as plain dicts and lists, parsed as GitHub does (YAML 1.2: `on` is a string)."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    loaded = YAML(typ="safe", pure=True).load(io.StringIO(text))
    assert isinstance(loaded, dict), f"{source}: not a mapping"
    return loaded


def schema_errors(document: dict[str, Any], schema: str) -> list[str]:
    """Violations of check-jsonschema's vendored schema `github-workflows` or `github-actions`."""
    text = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath(
        f"{schema}.json").read_text(encoding="utf-8")
    validator = jsonschema.Draft7Validator(json.loads(text))
    errors = validator.iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


@dataclass(frozen=True)
class Uses:
    """One `uses: owner/repo@ref # comment` line of a file."""

    file: str
    line: int
    action: str
    ref: str
    comment: str


USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")


def uses_lines(path: Path) -> list[Uses]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES_LINE.match(line)
        if match:
            action, _, ref = match["value"].partition("@")
            found.append(Uses(path.name, number, action, ref, (match["comment"] or "").strip()))
    return found


def steps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(job id or "action", step) for every step of a workflow or a composite action."""
    if "jobs" in document:
        for job_id, job in document["jobs"].items():
            for step in job.get("steps", []):
                yield job_id, step
    else:
        for step in document["runs"]["steps"]:
            yield "action", step


@dataclass(frozen=True)
class Invocation:
    """`appliance SUBCOMMAND ...` or `make TARGET` in a run script, as its words."""

    program: str  # appliance | make
    words: tuple[str, ...]

    @property
    def subcommand(self) -> str:
        return next((w for w in self.words if not w.startswith("-")), "")

    def options(self) -> dict[str, list[str]]:
        """--option -> the values given to it (the next word, unless that is another option)."""
        found: dict[str, list[str]] = {}
        words = list(self.words)
        for index, word in enumerate(words):
            if word.startswith("--") or (word.startswith("-") and len(word) == 2):
                name, equals, value = word.partition("=")
                if not equals:
                    following = words[index + 1] if index + 1 < len(words) else ""
                    value = following if following and not following.startswith("-") else ""
                found.setdefault(name, []).append(value)
        return found


def invocations(script: str) -> list[Invocation]:
    """Every appliance and make command in a bash script (backslash continuations joined)."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        for index, word in enumerate(words):
            program = Path(word).name.lstrip("$").strip("{}")  # also "$appliance", "$venv/appliance"
            if program not in ("appliance", "make"):
                continue
            rest = []
            for following in words[index + 1:]:
                if following in SHELL_OPERATORS:
                    break
                rest.append(following)
            if rest and re.match(r"-?[A-Za-z]", rest[0]):  # not `[ -x "$appliance" ]`
                if program == "make" and rest[:1] == ["-C"]:
                    rest = rest[2:]
                found.append(Invocation(program, tuple(rest)))
                break
    return found
