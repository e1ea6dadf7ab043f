"""The README's quickstart CLI block runs as written, with a fresh home, and leaves nothing up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_block_runs_as_written(tmp_path: Path, cli) -> None:
    text = README.read_text()
    block = re.search(r"```bash\n(\.venv/bin/appliance up.*?)```", text, re.S)
    assert block, "README lost its quickstart CLI block"
    # The block calls .venv/bin/appliance relative to the checkout; provide that path here so the
    # block runs unchanged against the interpreter running the tests.
    launcher = tmp_path / ".venv" / "bin" / "appliance"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m appliance "$@"\n')
    launcher.chmod(0o755)
    script = "set -euo pipefail\n" + block.group(1) + 'echo "endpoint=$AWS_ENDPOINT_URL"\n'
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=cli.env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^endpoint=http://127\.0\.0\.1:\d+$", done.stdout, re.M)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["target"] == "local" and report["profile"] == "standard"
    assert set(report["areas"]) == {"object-store", "pipelines", "tuning", "serving", "promotion"}
    assert all(area["failed"] == 0 and area["skipped"] == 0 for area in report["areas"].values())
    assert sum(area["passed"] for area in report["areas"].values()) == len(report["tests"])
    assert "is down" in done.stderr
    assert list((Path(cli.home) / "stacks").iterdir()) == []
