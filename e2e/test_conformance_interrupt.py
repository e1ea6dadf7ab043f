"""Ctrl-C during `appliance conformance` stops pytest, its deployments and the ephemeral stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from appliance.runtime import process


def test_ctrl_c_leaves_nothing_running(cli, tmp_path: Path) -> None:
    stacks = Path(cli.home) / "stacks"
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "conformance", "--area", "serving"],
        env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        # Wait until a model server of the stack runs: the interrupt then lands mid-test.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            "stubs.server" in process.cmdline(int(p.name)) and str(stacks) in process.cmdline(int(p.name))
            for p in Path("/proc").iterdir() if p.name.isdigit()
        ):
            time.sleep(0.2)
        assert time.monotonic() < deadline, "no model server started"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "error: interrupted" in stderr and "Traceback" not in stderr
    assert not stacks.exists() or [p.name for p in stacks.iterdir() if p.is_dir()] == []
    leftovers = [
        p.name for p in Path("/proc").iterdir()
        if p.name.isdigit() and str(stacks) in process.cmdline(int(p.name)) and process.is_alive(int(p.name))
    ]
    assert leftovers == []
