"""`make demo`'s script end to end: up, round trip, conformance, fetch, review, summary, down; with
the dev cache, and on an offline machine with an empty cache (the review NOT RUN, saying why)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from checkout import REPO_ROOT, upstream_dir

from appliance.catalog import load_catalog
from appliance.runtime import process
from appliance.sources.kustomize import INSTALL_FIX

# The first pinned source `appliance fetch --profile standard` tries (sources go in name order).
FIRST = load_catalog().sources["katib-0.19.0"]


@pytest.mark.parametrize("machine", ["dev-cache", "offline"])
def test_demo_script(machine: str, tmp_path: Path, cli) -> None:
    reports = tmp_path / "reports"
    env = {
        **cli.env,
        "DEMO_STACK": "demo-e2e",
        "DEMO_REPORT_DIR": str(reports),
        # The script calls `appliance` and `python` from PATH, as `make demo` arranges.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    cached = machine == "dev-cache"
    if cached and not (upstream_dir() / "SOURCES.md").is_file():
        pytest.skip(f"upstream manifests not found at {upstream_dir()} (CI sets APPLIANCE_UPSTREAM)")
    if not cached:
        # A fresh machine without network: an empty cache, and git reaches no GitHub repository.
        gitconfig = tmp_path / "gitconfig"
        gitconfig.write_text('[url "file:///nonexistent/"]\n\tinsteadOf = https://github.com/\n')
        env.update(APPLIANCE_CACHE=str(tmp_path / "cache"), GIT_CONFIG_GLOBAL=str(gitconfig))
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "demo.sh")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = done.stdout.split("== summary ==", 1)[1].strip().splitlines()
    pin = FIRST.git
    assert pin is not None
    if cached:
        review_line = ("security review of profile standard: nothing at or above high; "
                       f"report {reports}/review.md")
        assert "4 source(s) verified, 0 fetched now" in done.stderr  # the dev cache counts as present
    elif shutil.which("kubectl", path=env["PATH"]) is None:
        review_line = (
            "security review of profile standard: NOT RUN, upstream manifests not cached and 'appliance "
            f"fetch' failed (exit 3): kubectl is not installed: git pins are rendered with `kubectl "
            f"kustomize` (fix: {INSTALL_FIX})")
    else:
        review_line = (
            "security review of profile standard: NOT RUN, upstream manifests not cached and 'appliance "
            f"fetch' failed (exit 4): command failed: git fetch --depth 1 {pin.repo} {pin.commit}: the "
            "pinned commit could not be fetched (fatal: '/nonexistent/kubeflow/manifests' does not appear "
            "to be a git repository) (fix: check the network, or fill the cache from a verified copy with "
            "`appliance fetch --from DIR`)")
        # Progress while fetching, then the failed step.
        assert f"{FIRST.id}: fetching {pin.repo} at {pin.commit[:12]}\n" in done.stderr
        assert f"✗ {FIRST.id} ({FIRST.file})" in done.stderr
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
