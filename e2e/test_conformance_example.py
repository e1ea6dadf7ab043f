"""docs/conformance.md runs as written: its console session, and the user's pipeline test that
reuses the plugin and the `stub_model` fixture."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def commands(block: str) -> list[list[str]]:
    return [line[2:].split() for line in block.splitlines() if line.startswith("$ ")]


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # `appliance` and `python` as the page writes them, from this interpreter's environment.
    program = {"appliance": [sys.executable, "-m", "appliance"], "python": [sys.executable]}[argv[0]]
    return subprocess.run([*program, *argv[1:]], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_the_documented_session_and_user_example_run_as_written(cli, tmp_path: Path) -> None:
    session, user_run = (commands(b) for b in blocks("console"))
    assert [c[:2] for c in session] == [
        ["appliance", "up"], ["appliance", "conformance"], ["appliance", "down"]
    ]
    up = run(session[0], cli.env, tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        conformance = run(session[1], cli.env, tmp_path)
        assert conformance.returncode == 0, conformance.stderr
        report = json.loads((tmp_path / "reports" / "conformance.json").read_text())
        assert report["areas"]["object-store"]["passed"] == 3
        assert (tmp_path / "reports" / "junit.xml").is_file()

        sources = {b.splitlines()[0].removeprefix("# "): b for b in blocks("python")}
        assert sorted(sources) == ["my_pipeline.py", "test_my_pipeline.py"]
        project = tmp_path / "project"
        project.mkdir()
        for name, text in sources.items():
            (project / name).write_text(text)
        [command] = user_run
        example = run(command, cli.env, project)
        assert example.returncode == 0, example.stdout + example.stderr
        assert "1 passed" in example.stdout
    finally:
        done = run(session[2], cli.env, tmp_path)
        assert done.returncode == 0, done.stderr
