"""docs/serving.md: the session runs as written and prints what the page shows (ports aside)."""

from __future__ import annotations

import inspect
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.console import Console
from appliance.runtime import process
from appliance.targets.local.serving.deployments import Deployments
from appliance.targets.local.target import LocalTarget

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"
ROOT = DOC.parents[1]
PORT = re.compile(r"127\.0\.0\.1:\d+")


def steps() -> list[tuple[str, str, str]]:
    """(kind, code, expected stdout) in page order: console commands, python blocks + their text."""
    found: list[tuple[str, str, str]] = []
    blocks = re.findall(r"```(console|python|text)\n(.*?)```", DOC.read_text(), re.S)
    for index, (kind, body) in enumerate(blocks):
        if kind == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    found.append(("console", line[2:], ""))
                else:
                    kind_, code, out = found[-1]
                    found[-1] = (kind_, code, out + line + "\n")
        elif kind == "python":
            assert blocks[index + 1][0] == "text", "a python example is followed by its output"
            found.append(("python", body, blocks[index + 1][1]))
    return found


def test_the_session_runs_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    session = steps()
    assert len(session) == 14  # the page's every step: a lost block fails
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    try:
        for kind, code, expected in session:
            if kind == "console" and code.startswith("appliance "):
                # In process: the same CLI entry point, without a Python start per command.
                with pytest.raises(SystemExit) as done:
                    main(shlex.split(code)[1:])
                out, err = capsys.readouterr()
                assert done.value.code == 0, f"{code}\n{err}"
            else:
                argv = ["bash", "-c", code] if kind == "console" else [sys.executable, "-c", code]
                ran = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
                assert ran.returncode == 0, f"{code}\n{ran.stderr}"
                out = ran.stdout
            assert PORT.sub("127.0.0.1:PORT", out) == expected, code
    finally:
        LocalTarget().down("docs", Console(quiet=True))


def test_the_documented_follow_bound_is_the_code_s() -> None:
    timeouts = {name: inspect.signature(Deployments).parameters[name].default
                for name in ("ready_timeout", "switch_timeout", "drain_timeout")}
    # process.stop: SIGTERM, `timeout` seconds, then SIGKILL and up to 5 s more.
    stop = inspect.signature(process.stop).parameters["timeout"].default + 5.0
    assert (timeouts, stop) == ({"ready_timeout": 120.0, "switch_timeout": 15.0,
                                 "drain_timeout": 30.0}, 15.0)
    text = DOC.read_text()
    rows = re.findall(r"^\| (.+?) \| (\d+) s[ |(]", text, re.M)
    assert [int(limit) for _, limit in rows] == [120, 15, 30, 15]
    serves = timeouts["ready_timeout"] + timeouts["switch_timeout"]
    done = serves + timeouts["drain_timeout"] + stop
    assert f"within S + {serves:.0f} s, and the rollout is over within S + {done:.0f} s" in text
    assert f"add the rest of that rollout, up to {done:.0f} s" in text
