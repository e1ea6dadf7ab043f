"""The examples of docs/pipelines.md and docs/gates.md, run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.stack import Stack

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"<!-- (?P<kind>example|example-output|example-command): (?P<name>[^>]+?) -->\n"
                    r"```\w*\n(?P<body>.*?)```", re.S)


def blocks(doc: str, kind: str) -> dict[str, str]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    return {m["name"]: m["body"] for m in _BLOCK.finditer(text) if m["kind"] == kind}


def write_examples(doc: str, folder: Path) -> None:
    for name, body in blocks(doc, "example").items():
        (folder / name).write_text(body)


def normalise(report: str) -> str:
    """Run ids and timings vary; everything else must match the documented output."""
    report = re.sub(r"run [0-9a-f]{12}", "run RUNID", report)
    return re.sub(r"\d+\.\ds", "T", report)


def test_pipelines_example(local_stack: Stack, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    write_examples("pipelines.md", tmp_path)
    run = local_stack.pipelines.run(tmp_path / "greet.py", {"name": "kfp", "times": 2})
    assert run.outputs == json.loads(blocks("pipelines.md", "example-output")[
        "greet.py name=kfp times=2"])
    assert run.task("greet").log.splitlines()[-3:-1] == ["hello kfp", "hello kfp"]
    text = (DOCS / "pipelines.md").read_text(encoding="utf-8")
    documented = re.search(r"\$ appliance run greet.py (.*?)\n(.*?)```", text, re.S)
    assert documented is not None
    with pytest.raises(SystemExit) as done:
        main(["run", str(tmp_path / "greet.py"), *documented[1].split(), "--name",
              local_stack.name])
    out, _ = capsys.readouterr()
    assert done.value.code == 0
    assert normalise(out) == normalise(documented[2])


def test_component_only_example(local_stack: Stack, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    write_examples("pipelines.md", tmp_path)
    text = (DOCS / "pipelines.md").read_text(encoding="utf-8")
    documented = re.search(r"\$ appliance run add.py (.*?)\n(.*?)```", text, re.S)
    assert documented is not None
    with pytest.raises(SystemExit) as done:
        main(["run", str(tmp_path / "add.py"), *documented[1].split(), "--name", local_stack.name])
    out, _ = capsys.readouterr()
    assert done.value.code == 0
    assert normalise(out) == normalise(documented[2])


def test_reusable_gate_components_example(local_stack: Stack, tmp_path: Path) -> None:
    write_examples("gates.md", tmp_path)
    model = f"doc-{uuid.uuid4().hex[:8]}"
    runs = [local_stack.pipelines.run(tmp_path / "my_gated_pipeline.py", {"model": model})
            for _ in range(2)]
    assert [r.outputs["Output"] for r in runs] == json.loads(
        blocks("gates.md", "example-output")["my_gated_pipeline.py"])
    assert [r.states()["promote-model"] for r in runs] == ["SUCCEEDED", "SKIPPED"]


def test_gate_cli_example(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    write_examples("gates.md", tmp_path)
    monkeypatch.chdir(tmp_path)
    ((args, console),) = blocks("gates.md", "example-command").items()
    command, *output = console.splitlines()
    assert command == f"$ appliance {args}"
    with pytest.raises(SystemExit) as done:
        main(args.split())
    assert done.value.code == 0
    assert capsys.readouterr().out.splitlines() == output


def test_registry_python_example(local_stack: Stack, tmp_path: Path) -> None:
    # Run as a user runs it: its own Python, in the folder of the page's files, with the stack's
    # object store in AWS_* (what `eval "$(appliance env)"` sets).
    write_examples("gates.md", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(local_stack.object_store.env(), PYTHONPATH=str(DOCS.parent))
    ran = subprocess.run([sys.executable, "registry_api.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == blocks("gates.md", "example-output")["registry_api.py"]


@pytest.mark.parametrize("doc", ["pipelines.md", "gates.md"])
def test_every_python_block_is_a_run_example(doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    unmarked = [m.start() for m in re.finditer(r"```python\n", text)
                if not re.search(r"<!-- example: [^>]+ -->\n$", text[:m.start()])]
    assert unmarked == []
