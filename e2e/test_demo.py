"""`make demo`'s script end to end: up, round trip, conformance, review, summary, down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from checkout import REPO_ROOT, upstream_dir

from appliance.runtime import process


def test_demo_script(tmp_path: Path, cli) -> None:
    reports = tmp_path / "reports"
    env = {
        **cli.env,
        "DEMO_STACK": "demo-e2e",
        "DEMO_REPORT_DIR": str(reports),
        # The script calls `appliance` and `python` from PATH, as `make demo` arranges.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "demo.sh")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = done.stdout.split("== summary ==", 1)[1].strip().splitlines()
    cached = (upstream_dir() / "SOURCES.md").is_file()
    review_line = (
        f"security review of profile standard: nothing at or above high; report {reports}/review.md"
        if cached else
        "security review of profile standard: NOT RUN, upstream manifests not cached (run 'appliance fetch')"
    )
    assert summary == [
        f"conformance on the local stack: PASSED; report {reports}/conformance.md, "
        f"JUnit {reports}/junit.xml",
        review_line,
    ]
    assert "✓ object store round trip: 30000 bytes" in done.stderr
    assert "conformance PASSED: 14 passed, 0 failed, 0 skipped" in done.stderr
    assert (reports / "conformance.md").read_text().startswith(
        "# Conformance report\n\nTarget `local`, stack `demo-e2e`, profile `standard`: **PASSED**, "
        "14 passed, 0 failed, 0 skipped in ")
    assert (reports / "junit.xml").read_text().count("<testcase ") == 14
    assert "stack 'demo-e2e' is down" in done.stderr
    stack_dir = Path(cli.home) / "stacks" / "demo-e2e"
    assert not stack_dir.exists()
    assert [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
            if str(stack_dir) in process.cmdline(p)] == []
    if not cached:
        assert not (reports / "review.md").exists()
        return
    review = (reports / "review.md").read_text().splitlines()
    assert review[4:7] == [
        "| critical | high | medium | low | suppressed |", "|---|---|---|---|---|", "| 0 | 0 | 0 | 30 | 13 |",
    ]
