"""The pytest command line a conformance run becomes, area selection, and the CLI as glue."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.cli import cli
from appliance.conformance import areas, invocation
from appliance.conformance.invocation import RunOptions
from appliance.conformance.results import ConformanceResult, TestResult
from appliance.conformance.stacks import StackInfo
from appliance.errors import BadInput, CheckFailed

STACK = StackInfo("demo", "local", "standard", ephemeral=False)


def suite(tmp_path: Path, *modules: str) -> Path:
    for module in modules:
        (tmp_path / module).write_text("")
    return tmp_path


def test_argv_for_all_areas_serial(tmp_path: Path) -> None:
    root = suite(tmp_path, *(a.module for a in areas.AREAS))
    argv = invocation.pytest_argv(RunOptions(), STACK, tmp_path / "r.jsonl", root, python="py")
    assert argv == [
        "py", "-m", "pytest", "-c", str(root / "pytest.ini"), "--rootdir", str(root),
        "-p", "conformance.plugin", "--target", "local", "--stack", "demo",
        "--conformance-results", str(tmp_path / "r.jsonl"), "--continue-on-collection-errors", "-q",
        "-p", "no:xdist",
        *(str(root / a.module) for a in areas.AREAS),
    ]


def test_argv_with_workers_junit_areas_and_extra_args(tmp_path: Path) -> None:
    root = suite(tmp_path, *(a.module for a in areas.AREAS))
    options = RunOptions(areas=("serving", "object-store"), workers=2, junitxml=Path("j.xml"),
                         pytest_args=("-k", "exact"))
    argv = invocation.pytest_argv(options, STACK, Path("r"), root, python="py")
    assert argv[argv.index("-n") + 1] == "2" and "no:xdist" not in argv
    assert argv[-7:] == [
        "--junitxml=j.xml", "-o", "junit_suite_name=appliance-conformance",
        str(root / "test_object_store.py"), str(root / "test_serving.py"), "-k", "exact",
    ]
    # The runner has pytest write to its scratch file and copies it to j.xml itself.
    scratch = invocation.pytest_argv(options, STACK, Path("r"), root, Path("/tmp/x/junit.xml"), python="py")
    assert scratch[-7] == "--junitxml=/tmp/x/junit.xml"


def test_missing_modules_are_left_out(tmp_path: Path) -> None:
    root = suite(tmp_path, "test_object_store.py")
    assert invocation.modules(RunOptions(), root) == [root / "test_object_store.py"]
    assert invocation.modules(RunOptions(areas=("tuning",)), root) == []


def test_area_selection_and_lookup() -> None:
    assert [a.name for a in areas.select([])] == [
        "object-store", "pipelines", "tuning", "serving", "promotion"
    ]
    assert [a.name for a in areas.select(["promotion", "tuning"])] == ["tuning", "promotion"]
    with pytest.raises(BadInput, match="unknown conformance area 'gates'"):
        areas.select(["gates"])
    assert areas.area_of("test_tuning.py::test_goal") == "tuning"
    assert areas.area_of("/x/conformance/test_promotion.py") == "promotion"
    assert areas.area_of("tests/test_mine.py::test_x") is None


def test_the_shipped_suite_has_a_module_per_area() -> None:
    root = areas.suite_dir()
    assert (root / "pytest.ini").is_file() and (root / "plugin.py").is_file()
    assert [a.module for a in areas.AREAS if not (root / a.module).is_file()] == []


def test_negative_workers_are_bad_input() -> None:
    with pytest.raises(BadInput, match=r"^-n -1: not a worker count$") as bad:
        RunOptions(workers=-1).validate()
    assert (bad.value.render(), bad.value.exit_code) == (
        "-n -1: not a worker count: expected 0 to 64 (fix: use -n 0 (serial) or -n 2)", 2)
    with pytest.raises(BadInput, match=r"^-n 99999999999999999999: not a worker count$"):
        RunOptions(workers=99999999999999999999).validate()


JUNIT = '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"/>'


def test_cli_is_glue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[RunOptions] = []

    def fake_run(options: RunOptions, console: object) -> ConformanceResult:
        seen.append(options)
        area = options.areas[0]
        outcome = "failed" if area == "tuning" else "passed"
        test = TestResult(f"test_{area}.py::test_goal", area, outcome, 1.0, "boom")
        return ConformanceResult("local", "demo", "standard", options.areas, (test,), 1.0,
                                 junit_xml=JUNIT if options.junitxml else None)

    monkeypatch.setattr("appliance.conformance.runner.run", fake_run)
    runner = CliRunner()
    ok = runner.invoke(cli, ["conformance", "--stack", "demo", "-n", "2", "--area", "object-store",
                             "--junitxml", str(tmp_path / "j.xml"), "--", "-k", "goal"])
    assert ok.exit_code == 0, ok.output
    assert seen[0] == RunOptions(stack="demo", workers=2, areas=("object-store",),
                                 junitxml=tmp_path / "j.xml", pytest_args=("-k", "goal"))
    assert "# Conformance report" in ok.stdout
    assert (tmp_path / "j.xml").read_text() == JUNIT
    assert f"JUnit XML written to {tmp_path / 'j.xml'}" in ok.stderr
    failed = runner.invoke(cli, ["conformance", "--area", "tuning", "--report", str(tmp_path / "r.md")])
    assert isinstance(failed.exception, CheckFailed) and failed.exception.exit_code == 1
    assert "FAILED test_tuning.py::test_goal: boom" in failed.stderr
    assert f"report written to {tmp_path / 'r.md'}" in failed.stderr
    bad_area = runner.invoke(cli, ["conformance", "--area", "gates"])
    assert bad_area.exit_code == 2 and "'gates' is not one of" in bad_area.stderr


def fake_result(junit_xml: str | None, block: Path | None = None) -> object:
    def fake_run(options: RunOptions, console: object) -> ConformanceResult:
        if block is not None:
            # While the suite runs, a file takes the place of the report's directory.
            block.rmdir()
            block.write_text("not a directory")
        test = TestResult("test_object_store.py::test_goal", "object-store", "passed", 1.0)
        return ConformanceResult("local", "demo", "standard", ("object-store",), (test,), 1.0,
                                 junit_xml=junit_xml)

    return fake_run


def test_junit_xml_is_claimed_only_when_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("appliance.conformance.runner.run", fake_result(None))
    junit = tmp_path / "j.xml"
    done = CliRunner().invoke(cli, ["conformance", "--area", "object-store", "--junitxml", str(junit)])
    assert isinstance(done.exception, BadInput) and done.exception.exit_code == 2
    assert done.exception.render() == (
        "conformance passed on stack 'demo', but 1 output file(s) could not be written: see above")
    assert not junit.exists() and "JUnit XML written" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"error: --junitxml {junit}: not written: pytest produced no JUnit XML (the suite did not "
        "finish) (fix: see the errors above; rerun with -v)")


def test_a_write_that_fails_after_the_run_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    report, junit = folder / "r.json", tmp_path / "j.xml"
    monkeypatch.setattr("appliance.conformance.runner.run", fake_result(JUNIT, block=folder))
    done = CliRunner().invoke(cli, ["conformance", "--area", "object-store", "--report", str(report),
                                    "--junitxml", str(junit)])
    assert isinstance(done.exception, BadInput) and done.exception.exit_code == 2
    assert "report written" not in done.stderr
    assert f"JUnit XML written to {junit}" in done.stderr and junit.read_text() == JUNIT
    assert (f"error: --report {report}: cannot write: {folder}: File exists (fix: choose another "
            "--report path in a directory you can write)") in done.stderr.splitlines()
