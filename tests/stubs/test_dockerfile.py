"""stubs/Dockerfile cannot be built here (no Docker daemon): parse it and check what it promises —
a digest-pinned base, a numeric non-root user, the tested kfp/kserve/minio/boto3 within pyproject's
bounds, and every module the stubs and the gate components import, from the image's own files or
its installed packages. `make image` says clearly when Docker is missing."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "stubs" / "Dockerfile"
IGNORE = ROOT / "stubs" / "Dockerfile.dockerignore"
PINNED = ("kfp", "kserve", "minio", "boto3")


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


def pins() -> dict[str, str]:
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    return dict(re.findall(r'"([a-z0-9-]+)==([^"]+)"', runs))


def requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        found[requirement.name.lower()] = requirement
    return found


def copied() -> set[Path]:
    """Repository files the image holds, from its COPY instructions (sources relative to the root)."""
    files: set[Path] = set()
    for keyword, args in instructions():
        if keyword != "COPY":
            continue
        for source in args.split()[:-1]:
            path = ROOT / source
            files |= set(path.rglob("*.py")) if path.is_dir() else {path}
    return files


def test_one_base_image_pinned_by_digest() -> None:
    bases = [args for keyword, args in instructions() if keyword == "FROM"]
    assert len(bases) == 1
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", bases[0])


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [args for keyword, args in instructions() if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit())
    # Nothing may run after dropping to that user except metadata.
    last_user = max(i for i, (k, _) in enumerate(instructions()) if k == "USER")
    assert {k for k, _ in instructions()[last_user + 1 :]} <= {"EXPOSE", "CMD", "ENTRYPOINT", "ENV"}


def test_installs_the_tested_versions_within_pyprojects_bounds() -> None:
    found = pins()
    assert found == {name: importlib.metadata.version(name) for name in PINNED}
    declared = requirements()
    for name, version in found.items():
        # kfp >= 2.17, kserve >= 0.21, ...: the image's pin is a version the project accepts.
        assert declared[name].specifier.contains(version), (name, version, str(declared[name]))
    assert found["kfp"] == importlib.metadata.version("kfp-pipeline-spec")  # kfp's own spec, in step


def test_copies_the_stubs_and_every_module_they_and_the_gates_import() -> None:
    """The import closure of the stubs and of appliance.gates (what the reference components run):
    every appliance/stubs module in it is copied, every other import is the standard library or a
    distribution the pinned packages install."""
    files = copied()
    assert ROOT / "stubs" / "server" / "__main__.py" in files
    todo = [*ROOT.glob("stubs/**/*.py"), *ROOT.glob("appliance/gates/*.py")]
    seen: set[Path] = set()
    third_party: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for parent in path.relative_to(ROOT).parents:
            if (ROOT / parent / "__init__.py").exists():
                todo.append(ROOT / parent / "__init__.py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for name in names:
                top = name.split(".")[0]
                if top in ("appliance", "stubs"):
                    module = ROOT / name.replace(".", "/")
                    for candidate in (module / "__init__.py", module.with_suffix(".py")):
                        if candidate.exists():
                            todo.append(candidate)
                elif top not in sys.stdlib_module_names:
                    third_party.add(top)
    assert seen - files == set(), "imported but not copied into the image"
    installed = _closure(pins())
    providers = importlib.metadata.packages_distributions()
    for module in sorted(third_party):
        assert {d.lower() for d in providers[module]} & installed, f"{module} is not installed in the image"


def _closure(pinned: dict[str, str]) -> set[str]:
    """The distributions `pip install <pins>` brings, as resolved in this environment."""
    found: set[str] = set()
    todo = list(pinned)
    while todo:
        name = todo.pop().lower()
        if name in found:
            continue
        found.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def test_the_build_context_holds_exactly_what_is_copied() -> None:
    lines = [line for line in IGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*" and lines[-1] == "**/__pycache__"
    sources = [s for keyword, args in instructions() if keyword == "COPY" for s in args.split()[:-1]]
    assert [line.removeprefix("!") for line in lines[1:-1]] == sources


def test_default_command_is_the_stub_server() -> None:
    commands = [args for keyword, args in instructions() if keyword == "CMD"]
    assert commands == ['["python", "-m", "stubs.server", "--help"]']


def make_image(path: str) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None
    return subprocess.run([make, "-s", "image"], cwd=ROOT, env={**os.environ, "PATH": path},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.integration
def test_make_image_says_when_docker_is_missing_or_not_running(tmp_path: Path) -> None:
    missing = make_image(str(tmp_path))
    assert missing.returncode != 0
    assert "make image: docker not found: install Docker (https://docs.docker.com/get-docker/) to " \
           "build appliance-stubs:dev" in missing.stderr
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "docker").write_text("#!/bin/sh\nexit 1\n")
    (stopped / "docker").chmod(0o755)
    down = make_image(f"{stopped}:/usr/bin:/bin")
    assert down.returncode != 0
    assert "make image: the Docker daemon is not reachable ('docker info' failed): start Docker, " \
           "then run 'make image' again" in down.stderr


@pytest.mark.integration
def test_make_image_builds_from_the_repository_root_with_the_dockerfile(tmp_path: Path) -> None:
    record = tmp_path / "argv"
    (tmp_path / "docker").write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    (tmp_path / "docker").chmod(0o755)
    done = make_image(f"{tmp_path}:/usr/bin:/bin")
    assert done.returncode == 0, done.stderr
    assert record.read_text().splitlines() == ["info", "build -f stubs/Dockerfile -t appliance-stubs:dev ."]
