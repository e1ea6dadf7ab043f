"""stubs/Dockerfile cannot be built here: parse it and check what it promises."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "stubs" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_one_base_image_pinned_by_digest() -> None:
    bases = [args for keyword, args in instructions() if keyword == "FROM"]
    assert len(bases) == 1
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", bases[0])


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [args for keyword, args in instructions() if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    # Nothing may run after dropping to that user except metadata.
    last_user = max(i for i, (k, _) in enumerate(instructions()) if k == "USER")
    assert {k for k, _ in instructions()[last_user + 1 :]} <= {"EXPOSE", "CMD", "ENTRYPOINT", "ENV"}


def test_installs_the_tested_versions_and_copies_the_stubs() -> None:
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    pins = dict(re.findall(r'"([a-z-]+)==([^"]+)"', runs))
    assert pins == {name: importlib.metadata.version(name) for name in ("kfp", "kserve", "minio")}
    assert ("COPY", "stubs/ /app/stubs/") in instructions()
    assert ("ENV", "") not in instructions()
    env = " ".join(args for keyword, args in instructions() if keyword == "ENV")
    assert "PYTHONPATH=/app" in env


def test_default_command_is_the_stub_server() -> None:
    commands = [args for keyword, args in instructions() if keyword == "CMD"]
    assert commands == ['["python", "-m", "stubs.server", "--help"]']
