"""`appliance conformance` end to end: on a running stack, on an ephemeral one, reports, bad input."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path


def test_conformance_on_a_running_stack_writes_the_reports(cli, tmp_path: Path) -> None:
    cli("up", "--name", "conf", "--profile", "standard", check=True)
    try:
        report, junit = tmp_path / "out" / "conformance.json", tmp_path / "out" / "junit.xml"
        done = cli("conformance", "--stack", "conf", "--area", "object-store", "--area", "serving",
                   "-n", "2", "--report", str(report), "--junitxml", str(junit), timeout=300)
        assert done.returncode == 0, done.stderr
        data = json.loads(report.read_text())
        assert list(data) == ["target", "profile", "areas", "tests"]
        assert (data["target"], data["profile"]) == ("local", "standard")
        assert list(data["areas"]) == ["object-store", "serving"]
        assert {k: v for k, v in data["areas"]["object-store"].items() if k != "seconds"} == {
            "passed": 3, "failed": 0, "skipped": 0}
        assert {k: v for k, v in data["areas"]["serving"].items() if k != "seconds"} == {
            "passed": 2, "failed": 0, "skipped": 0}
        assert {t["outcome"] for t in data["tests"]} == {"passed"}
        assert all(set(t) == {"id", "area", "outcome", "seconds"} for t in data["tests"])
        assert "test_object_store.py::test_wrong_credentials_are_refused_with_403" in {
            t["id"] for t in data["tests"]}

        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None and suite.get("name") == "appliance-conformance"
        assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "0", "0")
        areas = {p.get("value") for p in suite.iter("property") if p.get("name") == "conformance_area"}
        assert areas == {"object-store", "serving"}

        assert re.search(r"^✓ object-store +3 passed +0 failed +0 skipped +[0-9.]+s$", done.stderr, re.M)
        assert re.search(r"^✓ serving +2 passed +0 failed +0 skipped +[0-9.]+s$", done.stderr, re.M)
        assert "conformance PASSED: 5 passed, 0 failed, 0 skipped" in done.stderr
        assert done.stdout == ""  # the report went to the file

        # The stack it attached to keeps running, without the tests' deployments or objects.
        status = json.loads(cli("status", "--name", "conf", "--json", check=True).stdout)
        assert status["healthy"] is True
        assert [c["name"] for c in status["components"]] == ["object-store"]

        markdown = cli("conformance", "--stack", "conf", "--area", "object-store", "--", "-k", "round_trip",
                       timeout=300)
        assert markdown.returncode == 0, markdown.stderr
        assert markdown.stdout.startswith("# Conformance report\n")
        assert "Target `local`, stack `conf`, profile `standard`: **PASSED**, 1 passed" in markdown.stdout
        assert "| `test_object_store.py::test_put_get_list_delete_round_trip` | object-store | passed |" \
            in markdown.stdout
    finally:
        cli("down", "--name", "conf")


def test_an_ephemeral_stack_is_started_and_stopped(cli, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    done = cli("conformance", "--profile", "minimal", "--area", "object-store", "--area", "serving",
               "--report", str(report), timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["profile"] == "minimal"
    assert data["areas"]["object-store"]["passed"] == 3
    # A component absent from the profile is skipped, with that reason; nothing else is.
    assert {k: v for k, v in data["areas"]["serving"].items() if k != "seconds"} == {
        "passed": 0, "failed": 0, "skipped": 2}
    assert "component 'serving' is absent from profile 'minimal'" in done.stderr
    assert re.search(r"^no stack 'default' is running: starting ephemeral stack 'conformance-[0-9a-f]{6}' "
                     r"\(local, profile minimal\); it is stopped at the end$", done.stderr, re.M)
    stacks = Path(cli.home) / "stacks"
    assert [p.name for p in stacks.iterdir() if p.is_dir()] == []


def test_without_stack_the_running_default_stack_is_tested(cli, tmp_path: Path) -> None:
    cli("up", "--profile", "minimal", check=True)  # the stack named `default`
    try:
        report = tmp_path / "r.json"
        done = cli("conformance", "--area", "object-store", "--report", str(report), timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[0] == (
            "testing the running stack 'default' (local, profile minimal); it is left running "
            "(--stack NAME tests another)")
        assert "ephemeral" not in done.stderr
        data = json.loads(report.read_text())
        assert (data["profile"], data["areas"]["object-store"]["passed"]) == ("minimal", 3)
        status = json.loads(cli("status", "--json", check=True).stdout)
        assert (status["name"], status["healthy"]) == ("default", True)
    finally:
        cli("down")


def test_bad_input_fails_before_anything_starts(cli, tmp_path: Path) -> None:
    bad_report = cli("conformance", "--report", str(tmp_path / "r.txt"))
    assert bad_report.returncode == 2
    assert "unknown report format '.txt'" in bad_report.stderr
    assert not (Path(cli.home) / "stacks").exists() or not any((Path(cli.home) / "stacks").iterdir())
    absent = cli("conformance", "--stack", "nope")
    assert absent.returncode == 2
    assert "no stack named 'nope' is up (fix: run 'appliance up --name nope' first)" in absent.stderr
    bad_area = cli("conformance", "--area", "gates")
    assert bad_area.returncode == 2 and "Invalid value for '--area'" in bad_area.stderr
    kind = cli("conformance", "--target", "kind", "--area", "object-store")
    # No Docker daemon here: the ephemeral kind stack is refused by its preflight, before anything.
    assert kind.returncode == 3 and "the kind target is missing" in kind.stderr
    assert "✗ docker daemon: " in kind.stderr
    # Output paths that cannot be written are refused before any stack starts: one line, exit 2.
    unwritable = [cli("conformance", option, path) for option, path in
                  (("--report", "/proc/nope/x.json"), ("--junitxml", "/proc/nope/j.xml"))]
    assert [(u.returncode, u.stdout, u.stderr) for u in unwritable] == [
        (2, "", "error: --report /proc/nope/x.json: cannot write: creating a directory in /proc failed: "
                "No such file or directory (fix: choose another --report path in a directory you can "
                "write)\n"),
        (2, "", "error: --junitxml /proc/nope/j.xml: cannot write: creating a directory in /proc failed: "
                "No such file or directory (fix: choose another --junitxml path in a directory you can "
                "write)\n"),
    ]
    for result in (bad_report, absent, bad_area, kind, *unwritable):
        assert "Traceback" not in result.stderr
