"""The Action (action.yml) and its documented example (docs/action.md): the example is a valid
workflow that passes only inputs the action has, and the action's own steps, executed as the runner
executes a composite action, bring up a local stack, run the user's tests, report and tear down."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from checkout import REPO_ROOT
from github_yaml import ACTION, invocations, load, schema_errors, steps

from appliance.runtime import process

DOC = REPO_ROOT / "docs" / "action.md"
INPUTS = {"target", "profile", "python-version", "tests", "requirements", "report-dir", "artifact-name"}
EXAMPLE_TEST = "tests/pipelines/test_model_quality.py"


def action() -> dict[str, Any]:
    return load(ACTION)


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_action_is_composite_with_documented_inputs() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    assert set(document["inputs"]) == INPUTS
    for name, spec in document["inputs"].items():
        assert spec["description"] and "default" in spec and spec["required"] is False, name
        assert f"| `{name}` | " in DOC.read_text(encoding="utf-8"), f"docs/action.md lacks input {name}"


def test_the_action_installs_from_its_own_checkout() -> None:
    [install] = [s for _, s in steps(action()) if s.get("name") == "Install the appliance"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert '-m pip install --quiet --disable-pip-version-check "$ACTION_PATH"' in install["run"]


def test_the_commands_the_action_runs() -> None:
    found = [(str(step.get("if", "")), f"{i.program} {' '.join(i.words)}")
             for _, step in steps(action()) for i in invocations(step.get("run", ""))]
    assert found == [
        ("inputs.target == 'kind'", "appliance fetch --profile $PROFILE"),
        ("inputs.target == 'kind'", "make image"),
        ("", "appliance doctor --target $TARGET"),
        ("", "appliance up --target kind --profile $PROFILE --timeout 25m"),
        ("", "appliance up --target local --profile $PROFILE"),
        ("", "appliance conformance --stack default --junitxml $REPORT_DIR/junit.xml "
             "--report $REPORT_DIR/conformance.md"),
        ("always()", "appliance diagnose --stack default -o $REPORT_DIR/diag"),
        ("always()", "appliance down"),
    ]


def example_workflow() -> dict[str, Any]:
    [workflow] = [load(block) for block in doc_blocks("yaml") if "jobs:" in block]
    return workflow


def appliance_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for _, step in steps(workflow) if re.match(r"[\w.-]+/appliance@", str(step.get("uses", "")))]


def test_the_documented_example_is_a_valid_workflow() -> None:
    assert schema_errors(example_workflow(), "github-workflows") == []


def test_the_documented_example_passes_only_inputs_the_action_has() -> None:
    [step] = appliance_steps(example_workflow())
    assert step["with"] == {"tests": "tests/pipelines", "requirements": "requirements-test.txt"}
    assert set(step["with"]) <= set(action()["inputs"])


def test_an_input_the_action_lacks_would_be_caught() -> None:
    workflow = example_workflow()
    [step] = appliance_steps(workflow)
    step["with"]["test"] = "tests"  # a typo of `tests`
    assert not set(step["with"]) <= set(action()["inputs"])


def test_the_example_follows_the_workflows_rules() -> None:
    workflow = example_workflow()
    assert workflow["permissions"] == {"contents": "read"}
    [checkout] = [s for _, s in steps(workflow) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"] == {"persist-credentials": False}
    assert checkout["uses"] == "actions/checkout@1af3b93b6815bc44a9784bd300feb67ff0d1eeb3"


# Running the action's steps ----------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", ".bench-venv*", "*.egg-info", "build", "dist",
                                     "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "reports")


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    output: str = ""


class CompositeRunner:
    """Runs the `run:` steps of a composite action as GitHub's runner does: bash -e -o pipefail, the
    step's env with `${{ }}` expressions evaluated, and `if:` with an implicit success() unless the
    condition calls a status function. `uses:` steps are recorded, not run."""

    def __init__(
        self, root: Path, action_path: Path, inputs: dict[str, str], temp: Path | None = None
    ) -> None:
        defaults = {name: str(spec.get("default", "")) for name, spec in action()["inputs"].items()}
        unknown = set(inputs) - set(defaults)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs = {**defaults, **inputs}
        self.action_path = action_path
        self.workspace = root / "workspace"
        self.temp = temp or root / "runner-temp"
        self.summary = root / "step-summary.md"
        self.home = root / "home"
        for folder in (self.workspace, self.temp):
            folder.mkdir(exist_ok=True)
        self.summary.touch()

    def value(self, expression: str) -> str:
        if expression == "github.action_path":
            return str(self.action_path)
        name = expression.removeprefix("inputs.")
        assert name != expression and name in self.inputs, f"cannot evaluate ${{{{ {expression} }}}}"
        return self.inputs[name]

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m[1]), text)

    def condition(self, expression: str, failed: bool) -> bool:
        if not expression:
            return not failed
        python = re.sub(r"inputs\.([\w-]+)", lambda m: repr(self.inputs[m[1]]), expression)
        python = python.replace("&&", " and ").replace("||", " or ")
        functions = {"always": lambda: True, "success": lambda: not failed, "failure": lambda: failed}
        # Only our own action.yml's conditions, evaluated with no builtins.
        value = bool(eval(python, {"__builtins__": {}}, functions))
        status_function = any(f"{name}()" in expression for name in functions)
        return value if status_function else value and not failed

    def environment(self, step_env: dict[str, str]) -> dict[str, str]:
        # Where setup-python would put its interpreter: the Python running this test.
        shims = self.temp.parent / "setup-python"
        shims.mkdir(exist_ok=True)
        if not (shims / "python").exists():
            (shims / "python").symlink_to(sys.executable)
        path = [p for p in os.environ["PATH"].split(os.pathsep) if p and not p.startswith(str(REPO_ROOT))]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("APPLIANCE_", "PYTEST_", "VIRTUAL_ENV", "PYTHON"))}
        env.update(
            PATH=os.pathsep.join([str(shims), *path]), RUNNER_TEMP=str(self.temp),
            GITHUB_WORKSPACE=str(self.workspace), GITHUB_ACTION_PATH=str(self.action_path),
            GITHUB_STEP_SUMMARY=str(self.summary), NO_COLOR="1",
            APPLIANCE_HOME=str(self.home / "state"), APPLIANCE_CACHE=str(self.home / "cache"),
        )
        env.update({name: self.substitute(str(value)) for name, value in step_env.items()})
        return env

    def run(self) -> Outcome:
        outcome = Outcome()
        for index, step in enumerate(action()["runs"]["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index}"
            if not self.condition(str(step.get("if", "")), bool(outcome.failed)):
                outcome.skipped.append(name)
                continue
            if "uses" in step:
                outcome.skipped.append(name)  # another action: not run here
                continue
            assert step["shell"] == "bash", name
            bash = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]]
            done = subprocess.run(bash, cwd=self.workspace, env=self.environment(step.get("env", {})),
                                  capture_output=True, text=True, timeout=1500)
            outcome.output += f"--- {name} (exit {done.returncode})\n{done.stdout}{done.stderr}"
            (outcome.failed if done.returncode else outcome.ran).append(name)
        return outcome


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One RUNNER_TEMP for the stack scenarios: the first installs into a fresh venv, the others
    run the same install step over it (pip then rebuilds only the appliance), to spare minutes."""
    return tmp_path_factory.mktemp("runner-temp")


@pytest.fixture(scope="module")
def action_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's folder as a runner downloads it: the repository's files, no build output."""
    path = tmp_path_factory.mktemp("action") / "appliance"
    shutil.copytree(REPO_ROOT, path, ignore=NOT_SOURCES)
    return path


def left_running(home: Path) -> list[int]:
    return [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
            if str(home) in process.cmdline(pid)]


def junit_cases(path: Path) -> list[tuple[str, bool]]:
    root = ElementTree.parse(path).getroot()
    return [(case.get("name", ""), case.find("failure") is not None) for case in root.iter("testcase")]


ALWAYS = ["appliance diagnose", "appliance down"]
KIND_ONLY = ["kind and kubectl (target kind)", "Upstream manifests and stubs image (target kind)"]
OTHER_ACTIONS = [
    "actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c", "Upload the reports"]


@pytest.mark.integration
def test_the_action_runs_the_documented_test_against_a_local_stack(tmp_path: Path, action_copy: Path,
                                                                   runner_temp: Path) -> None:
    [example] = [b for b in doc_blocks("python") if b.startswith(f"# {EXAMPLE_TEST}\n")]
    runner = CompositeRunner(tmp_path, action_copy, {"tests": "tests/pipelines"}, runner_temp)
    (runner.workspace / EXAMPLE_TEST).parent.mkdir(parents=True)
    (runner.workspace / EXAMPLE_TEST).write_text(example)
    outcome = runner.run()
    assert outcome.failed == [], outcome.output[-6000:]
    assert outcome.ran == ["Check the inputs", "Install the appliance", "appliance doctor", "appliance up",
                           "Tests", *ALWAYS]
    summary = "Conformance report in the job summary"
    assert sorted(outcome.skipped) == sorted([*KIND_ONLY, *OTHER_ACTIONS, summary])
    reports = runner.workspace / "appliance-reports"
    assert junit_cases(reports / "junit.xml") == [("test_a_stub_model_scores_what_it_declares", False)]
    assert "1 passed" in outcome.output
    assert (reports / "diag").is_dir() and any((reports / "diag").iterdir())
    assert not (runner.home / "state" / "stacks" / "default").exists()
    assert left_running(runner.home) == []


@pytest.mark.integration
def test_without_tests_the_action_runs_conformance_into_the_job_summary(
    tmp_path: Path, action_copy: Path, runner_temp: Path
) -> None:
    runner = CompositeRunner(tmp_path, action_copy, {"profile": "serving", "report-dir": "out/reports"},
                             runner_temp)
    outcome = runner.run()
    assert outcome.failed == [], outcome.output[-6000:]
    assert "Conformance report in the job summary" in outcome.ran
    reports = runner.workspace / "out" / "reports"
    report = (reports / "conformance.md").read_text()
    assert report.startswith("# Conformance report\n\nTarget `local`, stack `default`, profile `serving`: "
                             "**PASSED**, 5 passed, 0 failed, 9 skipped in ")
    assert runner.summary.read_text() == report
    assert len(junit_cases(reports / "junit.xml")) == 14
    assert left_running(runner.home) == []


@pytest.mark.integration
def test_a_failing_test_fails_the_action_and_still_tears_down(tmp_path: Path, action_copy: Path,
                                                              runner_temp: Path) -> None:
    inputs = {"tests": "checks/test_broken.py", "profile": "minimal"}
    runner = CompositeRunner(tmp_path, action_copy, inputs, runner_temp)
    (runner.workspace / "checks").mkdir()
    (runner.workspace / "checks" / "test_broken.py").write_text(
        "def test_broken(object_store):\n"
        "    object_store.put('x', b'1')\n"
        "    assert object_store.get('x') == b'2'\n")
    outcome = runner.run()
    assert outcome.failed == ["Tests"], outcome.output[-6000:]
    assert outcome.ran[-2:] == ALWAYS
    assert junit_cases(runner.workspace / "appliance-reports" / "junit.xml") == [("test_broken", True)]
    assert not (runner.home / "state" / "stacks" / "default").exists()
    assert left_running(runner.home) == []


@pytest.mark.integration
def test_a_bad_target_stops_the_action_before_anything_starts(tmp_path: Path) -> None:
    runner = CompositeRunner(tmp_path, tmp_path / "unused", {"target": "kube"})
    outcome = runner.run()
    assert outcome.failed == ["Check the inputs"]
    assert "::error::input target: 'kube' is not a target; use local or kind" in outcome.output
    # Nothing was installed, so the always() steps find nothing to report, diagnose or stop.
    assert outcome.ran == ["Conformance report in the job summary", *ALWAYS]
    assert not (runner.temp / "appliance-venv").exists()
