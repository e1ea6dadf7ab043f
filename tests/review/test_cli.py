"""`appliance review` end to end through the CLI entry point: outputs and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_in_process import run, write

CLEAN = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: apps}
data: {mode: fast}
"""
RISKY = """apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: apps}
stringData: {secretkey: minio123}
"""


def test_exit_0_when_nothing_at_or_above_fail_on(tmp_path, capsys) -> None:
    code, out, err = run(["review", "-f", write(tmp_path, "ok.yaml", CLEAN)], capsys)
    assert code == 0
    assert "No unsuppressed findings." in out
    assert "✓ reviewed 1 objects" in err


def test_exit_1_with_findings_and_reports_on_stdout(tmp_path, capsys) -> None:
    code, out, err = run(["review", "-f", write(tmp_path, "bad.yaml", RISKY), "--format",
                          "json"], capsys)
    assert code == 1
    assert json.loads(out)["summary"] == {"critical": 1, "high": 0, "medium": 0, "low": 0}
    assert "error: 1 finding(s) at or above high" in err
    # --fail-on above the finding's severity is not reachable: critical is the top.
    code, _, _ = run(["review", "-f", str(tmp_path / "bad.yaml"), "--fail-on", "critical"],
                     capsys)
    assert code == 1


def test_fail_on_threshold(tmp_path, capsys) -> None:
    medium = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\n" \
             "spec: {type: NodePort, ports: [{port: 80}]}\n"
    path = write(tmp_path, "svc.yaml", medium)
    assert run(["review", "-f", path], capsys)[0] == 0
    assert run(["review", "-f", path, "--fail-on", "medium"], capsys)[0] == 1


def test_exit_2_on_unparseable_yaml_naming_file_and_line(tmp_path, capsys) -> None:
    path = write(tmp_path, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n")
    code, out, err = run(["review", "-f", path], capsys)
    assert code == 2 and out == ""
    assert f"{path}: 1 problem(s)" in err and "line 5" in err
    assert "Traceback" not in err


def test_bad_usage_is_exit_2(tmp_path, capsys) -> None:
    assert run(["review"], capsys)[0] == 2
    assert run(["review", "-f", write(tmp_path, "a.yaml", CLEAN), "--kubernetes-version", "x"],
               capsys)[0] == 2
    assert run(["review", "-f", str(tmp_path / "missing.yaml")], capsys)[0] == 2


def test_exceptions_file_and_output_file(tmp_path, capsys) -> None:
    manifests = write(tmp_path, "bad.yaml", RISKY)
    exceptions = write(tmp_path, "exceptions.yaml", """
exceptions:
- rule: secrets.default-credentials
  resource: Secret/apps/creds
  reason: throwaway demo namespace
""")
    out_file = tmp_path / "out" / "report.sarif"
    code, out, err = run(["review", "-f", manifests, "--exceptions", exceptions, "--format",
                          "sarif", "-o", str(out_file)], capsys)
    assert code == 0 and out == ""
    result = json.loads(out_file.read_text())["runs"][0]["results"][0]
    assert result["suppressions"][0]["justification"] == "throwaway demo namespace"


def test_baseline_and_diff(tmp_path, capsys) -> None:
    old = write(tmp_path, "old.yaml", RISKY)
    report = tmp_path / "old.json"
    run(["review", "-f", old, "--format", "json", "-o", str(report)], capsys)
    new = write(tmp_path, "new.yaml", RISKY + "---\n" + RISKY.replace("creds", "creds2"))
    code, _, err = run(["review", "-f", new, "--baseline", str(report)], capsys)
    assert code == 1 and "1 new finding(s) at or above high" in err
    code, _, _ = run(["review", "-f", old, "--baseline", str(report)], capsys)
    assert code == 0
    code, out, _ = run(["review", "--diff", str(report), new, "--format", "markdown"], capsys)
    assert code == 1
    assert "**1 added**, 0 resolved, 1 unchanged" in out


def test_profile_without_renderer_is_a_missing_prerequisite(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "appliance.render", None)
    code, _, err = run(["review", "--profile", "minimal"], capsys)
    assert code == 3
    assert "the profile renderer (appliance.render) is not available" in err


def test_profile_end_to_end_through_the_renderer(upstream, capsys) -> None:
    code, out, err = run(["review", "--profile", "minimal", "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["sources"] == ["profile:minimal"]
    assert data["summary"]["critical"] == data["summary"]["high"] == 0
    suppressed = [f for f in data["findings"] if f["suppressed"]]
    assert suppressed and all("catalog" in f["suppression"]["origin"] for f in suppressed)
    assert all(f["location"]["file"] == "profile:minimal" and f["location"]["line"] > 0
               for f in data["findings"])


OUTPUT_FIX = "(fix: choose another -o path in a directory you can write)"


def test_output_paths_that_cannot_be_written_exit_2(tmp_path, capsys) -> None:
    manifests = write(tmp_path, "ok.yaml", CLEAN)
    a_file = Path(manifests)
    cases = {
        str(a_file / "r.json"): f"{a_file} is not a directory {OUTPUT_FIX}",
        str(tmp_path): "it is a directory (fix: give a file path)",
    }
    if Path("/proc/self").is_dir():  # Linux: root passes os.access here, the check must probe
        cases["/proc/nope/f"] = ("creating a directory in /proc failed: No such file or directory "
                                 f"{OUTPUT_FIX}")
    for target, why in cases.items():
        for args in (["-f", manifests], ["--diff", manifests, manifests]):
            code, out, err = run(["review", *args, "-o", target], capsys)
            expected = f"error: -o {target}: cannot write: {why}"
            assert (code, out, err.splitlines()) == (2, "", [expected])
