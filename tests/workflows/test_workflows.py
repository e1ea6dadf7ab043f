"""The GitHub workflows and the Action, read as files: schemas, pins, permissions, the kind lanes
(equal to appliance/targets/kind/versions.py), the commands each job runs, and the CLI they name."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
from checkout import REPO_ROOT
from github_yaml import ACTION, WORKFLOWS, Invocation, invocations, load, schema_errors, steps, uses_lines

from appliance.cli import cli
from appliance.targets.kind import versions

FILES = [*WORKFLOWS, ACTION]
SHA = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"v\d+\.\d+\.\d+")


def workflow(name: str) -> dict[str, Any]:
    return load(REPO_ROOT / ".github" / "workflows" / name)


def test_the_workflows_are_the_three_this_repository_documents() -> None:
    assert [p.name for p in WORKFLOWS] == ["kind.yml", "lock.yml", "test.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(path: Path) -> None:
    assert schema_errors(load(path), "github-workflows") == []


def test_action_matches_githubs_schema() -> None:
    assert schema_errors(load(ACTION), "github-actions") == []


def test_the_schema_check_can_fail() -> None:
    broken = load(REPO_ROOT / ".github" / "workflows" / "test.yml")
    broken["jobs"]["test"]["runs-on"] = {"labels": 3}
    del broken["jobs"]["test"]["steps"]
    assert schema_errors(broken, "github-workflows") != []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    found = uses_lines(path)
    assert found, "no uses: lines found (the parser lost them)"
    for uses in found:
        if uses.action.startswith("./"):
            continue
        where = f"{uses.file}:{uses.line}: {uses.action}@{uses.ref}"
        assert SHA.fullmatch(uses.ref), f"{where} is not a full commit"
        assert VERSION_COMMENT.fullmatch(uses.comment), f"{uses.file}:{uses.line}: no '# vX.Y.Z' comment"


def test_one_commit_per_action_and_one_version_per_commit() -> None:
    seen: dict[str, set[tuple[str, str]]] = {}
    for path in FILES:
        for uses in uses_lines(path):
            seen.setdefault(uses.action, set()).add((uses.ref, uses.comment))
    assert {action: len(pins) for action, pins in seen.items()} == dict.fromkeys(seen, 1)
    assert sorted(seen) == ["actions/cache", "actions/cache/restore", "actions/cache/save",
                            "actions/checkout", "actions/setup-python", "actions/upload-artifact",
                            "helm/kind-action"]
    assert len({ref for action, pins in seen.items() if action.startswith("actions/cache")
                for ref, _ in pins}) == 1  # the save and restore halves of the same release


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    document = load(path)
    assert "pull_request_target" not in document["on"]
    assert "workflow_run" not in document["on"]
    assert document["permissions"] == {}  # nothing by default; each job asks for what it needs
    for job_id, job in document["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, job_id
        assert isinstance(job["timeout-minutes"], int), job_id


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_script(path: Path) -> None:
    # Values reach scripts through env: only then can no input, branch name or matrix value
    # become shell code.
    for job_id, step in steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{job_id}: {step.get('name')}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials(path: Path) -> None:
    for job_id, step in steps(load(path)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, job_id


def kind_lanes() -> list[dict[str, str]]:
    return workflow("kind.yml")["jobs"]["kind"]["strategy"]["matrix"]["include"]


def test_kind_matrix_is_versions_ci_lanes() -> None:
    assert [(lane["kind"], lane["node"]) for lane in kind_lanes()] == [
        (pin.kind, pin.node_image) for pin in versions.CI_LANES]


def test_each_lane_uses_the_kubectl_of_its_node_image() -> None:
    for lane in kind_lanes():
        assert lane["kubectl"] == versions.show(versions.KindPin(lane["kind"], lane["node"]).kubernetes)


def kind_action_inputs(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["with"] for _, step in steps(document)
            if str(step.get("uses", "")).startswith("helm/kind-action@")]


def test_the_kube_cluster_and_the_actions_kind_use_the_default_pin() -> None:
    kubectl = versions.show(versions.DEFAULT.kubernetes)
    [install, ext] = kind_action_inputs(workflow("kind.yml"))
    assert install == {"install_only": True, "version": "${{ matrix.kind }}",
                       "kubectl_version": "${{ matrix.kubectl }}"}
    assert ext == {"version": versions.DEFAULT.kind, "node_image": versions.DEFAULT.node_image,
                   "kubectl_version": kubectl, "cluster_name": "ext", "wait": "120s"}
    assert kind_action_inputs(load(ACTION)) == [
        {"install_only": True, "version": versions.DEFAULT.kind, "kubectl_version": kubectl}]


def commands(document: dict[str, Any], job: str) -> list[tuple[str, Invocation]]:
    """(step `if`, command) for every appliance/make command of a job, in order."""
    found = []
    for job_id, step in steps(document):
        if job_id == job:
            found += [(str(step.get("if", "")), i) for i in invocations(step.get("run", ""))]
    return found


def words(document: dict[str, Any], job: str) -> list[tuple[str, str]]:
    return [(condition, f"{i.program} {' '.join(i.words)}") for condition, i in commands(document, job)]


def test_the_kind_job_runs_the_bring_up_and_always_diagnoses_and_tears_down() -> None:
    assert words(workflow("kind.yml"), "kind") == [
        ("", "make install"),
        ("", "appliance fetch --profile standard"),
        ("", "make image"),
        ("", "appliance doctor --target kind"),
        ("", "appliance up --target kind --profile standard --kind-node-image $KIND_NODE_IMAGE "
             "--timeout 25m --retain"),
        ("", "appliance status --json"),
        ("", "appliance conformance --stack default --junitxml reports/junit.xml "
             "--report reports/conformance.md"),
        ("always()", "appliance diagnose --stack default -o reports/diag"),
        ("always()", "appliance down"),
    ]
    job = workflow("kind.yml")["jobs"]["kind"]
    assert job["env"] == {"KIND_NODE_IMAGE": "${{ matrix.node }}"}
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    upload, e2e_upload = uploads
    assert (upload["if"], upload["with"]["path"]) == ("always()", "reports/")
    names = [s.get("name") for s in job["steps"]]
    assert names.index("appliance diagnose") < names.index("Upload reports") < names.index("appliance down")
    # The tests marked `kind` run after the standard stack is down (each makes its own cluster),
    # once a bring-up has proved the machine can; their JUnit report is uploaded whatever they say.
    [e2e] = [s for s in job["steps"] if s.get("name") == "kind-marked end-to-end tests"]
    assert names.index("appliance down") < names.index("kind-marked end-to-end tests")
    assert (e2e["if"], e2e["run"]) == (
        "steps.up.outcome == 'success'",
        ".venv/bin/python -m pytest -m kind -rs e2e --junitxml reports/e2e-kind.xml")
    assert (e2e_upload["if"], e2e_upload["with"]["path"]) == ("always() && steps.up.outcome == 'success'",
                                                              "reports/e2e-kind.xml")


def test_the_image_cache_is_keyed_on_the_profiles_and_the_stubs_image() -> None:
    job = workflow("kind.yml")["jobs"]["kind"]["steps"]
    names = [s.get("name") for s in job]
    [restore] = [s for s in job if str(s.get("uses", "")).startswith("actions/cache/restore@")]
    [save] = [s for s in job if str(s.get("uses", "")).startswith("actions/cache/save@")]
    assert restore["id"] == "images" and restore["with"] == {
        "path": "~/.cache/appliance/images",
        "key": "kind-images-${{ runner.arch }}-${{ hashFiles('profiles/**', 'stubs/Dockerfile') }}",
    }
    assert save["with"] == {"path": "~/.cache/appliance/images",
                            "key": "${{ steps.images.outputs.cache-primary-key }}"}
    # Loaded before the bring-up; archived and saved after a good one, on a cache miss only.
    assert names.index("Load the image archive") < names.index("appliance up --target kind")
    condition = "always() && steps.up.outcome == 'success' && steps.images.outputs.cache-hit != 'true'"
    [archive] = [s for s in job if s.get("name") == "Archive the profile's images"]
    assert archive["if"] == save["if"] == condition
    assert names.index("appliance up --target kind") < names.index("Archive the profile's images") \
        < names.index("Save the image archive")
    assert "grep -v -e '^kindest/node:' -e '^appliance-stubs:'" in archive["run"]


def test_the_kube_job_runs_on_a_cluster_it_did_not_create() -> None:
    assert words(workflow("kind.yml"), "kube") == [
        ("", "make install"),
        ("", "appliance fetch --profile serving"),
        ("", "make image IMAGE=appliance-stubs:ci"),
        ("", "appliance up --target kube --context kind-ext --stubs-image appliance-stubs:ci "
             "--profile serving --timeout 25m"),
        ("", "appliance conformance --stack default --area object-store --area serving "
             "--junitxml reports/junit.xml --report reports/conformance.md"),
        ("always()", "appliance diagnose --stack default -o reports/diag"),
        ("always()", "appliance down"),
    ]


def test_the_test_job_lints_and_tests_on_every_supported_python() -> None:
    document = workflow("test.yml")
    classifiers = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    supported = [c.rsplit(" :: ", 1)[1] for c in classifiers
                 if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert document["jobs"]["test"]["strategy"]["matrix"]["python"] == supported == ["3.11", "3.12", "3.13"]
    assert words(document, "test") == [
        ("", "make install"), ("", "make lint"), ("", "appliance fetch"), ("", "make test")]
    [test_step] = [s for s in document["jobs"]["test"]["steps"] if s.get("run") == "make test"]
    assert test_step["env"]["APPLIANCE_UPSTREAM"] == "${{ runner.temp }}/upstream"


def test_the_lock_job_proposes_a_diff_with_read_only_permissions() -> None:
    document = workflow("lock.yml")
    assert document["on"]["schedule"] == [{"cron": "41 4 * * 1"}]
    assert words(document, "lock") == [
        ("", "make install"), ("", "appliance fetch"), ("", "appliance lock")]
    job = document["jobs"]["lock"]
    assert "gh " not in str(job) and "GITHUB_TOKEN" not in str(job)
    [upload] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "proposal/"


# The CLI the workflows run -----------------------------------------------------------------------
# The workflows are written against the CLI the cluster targets are getting (--target kube,
# --kind-node-image, --timeout, --retain, --context, --stubs-image, `appliance lock`, `make image`).
# What the CLI of this tree lacks is listed: a use of a flag that exists nowhere else fails here.
# Remove entries as they land (in main at 2728135 every one exists: the list can be emptied there).


def make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):", text, re.M))


def missing(invocation: Invocation) -> list[str]:
    if invocation.program == "make":
        return [] if invocation.subcommand in make_targets() else [f"make {invocation.subcommand}"]
    name = invocation.subcommand
    command = cli.get_command(click.Context(cli), name)
    if command is None:
        return [f"appliance {name}"]
    options = {opt: param for param in command.params if isinstance(param, click.Option)
               for opt in param.opts + param.secondary_opts}
    gaps = []
    for option, values in invocation.options().items():
        param = options.get(option)
        if param is None:
            gaps.append(f"appliance {name} {option}")
        elif isinstance(param.type, click.Choice):
            gaps += [f"appliance {name} {option} {v}" for v in values
                     if not v.startswith("$") and v not in param.type.choices]
    return gaps


def test_every_command_the_workflows_and_the_action_run_exists() -> None:
    gaps = set()
    used = 0
    for path in FILES:
        document = load(path)
        for _, step in steps(document):
            for invocation in invocations(step.get("run", "")):
                used += 1
                gaps.update(missing(invocation))
    assert used == 31  # kind 9, kube 7, test 4, lock 3, action 8
    assert gaps == set()


# docs/kind.md says what the files say ------------------------------------------------------------

KIND_DOC = REPO_ROOT / "docs" / "kind.md"


def doc_rows(heading: str) -> list[list[str]]:
    """The body rows of the first table under `### heading`, cells stripped of backticks."""
    section = KIND_DOC.read_text(encoding="utf-8").split(f"### {heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
        elif rows and not line.startswith("|"):
            break
    return rows[1:]


def test_kind_doc_lists_the_lanes() -> None:
    assert doc_rows("The kind lanes") == [
        [lane, pin.kind, pin.node_image, versions.show(pin.kubernetes)]
        for lane, pin in (("versions.DEFAULT", versions.DEFAULT), ("versions.KFP_LANE", versions.KFP_LANE))]
    assert versions.CI_LANES == (versions.DEFAULT, versions.KFP_LANE)


def test_kind_doc_lists_the_pinned_actions() -> None:
    pins = {(u.action, u.comment, u.ref) for path in FILES for u in uses_lines(path)}
    assert sorted(tuple(row) for row in doc_rows("Actions used")) == sorted(pins)


# kubectl v1.32.4 embeds kustomize v5.5.0 (`kubectl version --client` on the development machine).
KUSTOMIZE_OF_KUBECTL = {"v1.32.4": "v5.5.0"}


def test_fetches_use_the_kustomize_the_pins_were_made_with() -> None:
    catalog = load(REPO_ROOT / "profiles" / "catalog.yaml")
    recorded = {str(source["git"]["kustomize"]) for source in catalog["sources"].values()
                if "kustomize" in source.get("git", {})}
    kubectls = {workflow(name)["env"]["KUSTOMIZE_KUBECTL"] for name in ("test.yml", "kind.yml", "lock.yml")}
    assert kubectls == {"v1.32.4"}
    assert recorded <= {KUSTOMIZE_OF_KUBECTL["v1.32.4"]}
    action_scripts = " ".join(step.get("run", "") for _, step in steps(load(ACTION)))
    assert 'install-kubectl.sh" v1.32.4 "$RUNNER_TEMP/kustomize"' in action_scripts


FAKE_DOCKER = """#!/usr/bin/env bash
echo "$*" >> "$DOCKER_CALLS"
if [ "$1 $2" = "image ls" ]; then cat "$DOCKER_IMAGES"; fi
"""


def run_kind_step(name: str, tmp_path: Path, images: str) -> tuple[subprocess.CompletedProcess[str],
                                                                     list[str]]:
    """One step of the kind job in bash, with a fake docker that lists `images` and records its calls."""
    [step] = [s for s in workflow("kind.yml")["jobs"]["kind"]["steps"] if s.get("name") == name]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    (tmp_path / "docker-image-ls").write_text(images)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path / "home"),
           "RUNNER_TEMP": str(tmp_path), "DOCKER_CALLS": str(tmp_path / "calls"),
           "DOCKER_IMAGES": str(tmp_path / "docker-image-ls")}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
                          env=env, capture_output=True, text=True, timeout=60)
    calls = tmp_path / "calls"
    return done, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.integration
def test_the_archive_step_saves_what_the_preload_pulled(tmp_path: Path) -> None:
    listed = ("kindest/node:v1.34.11\nappliance-stubs:dev\nquay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z\n"
              "<none>:<none>\nghcr.io/kubeflow/kfp-api-server:2.17.0\n")
    done, calls = run_kind_step("Archive the profile's images", tmp_path, listed)
    assert done.returncode == 0, done.stderr
    archive = tmp_path / "home" / ".cache" / "appliance" / "images" / "profile.tar"
    assert calls == ["image ls --format {{.Repository}}:{{.Tag}}",
                     f"save --platform linux/amd64 --output {archive} "
                     "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z "
                     "ghcr.io/kubeflow/kfp-api-server:2.17.0"]


@pytest.mark.integration
def test_the_archive_step_saves_nothing_when_nothing_was_pulled(tmp_path: Path) -> None:
    done, calls = run_kind_step("Archive the profile's images", tmp_path, "kindest/node:v1.34.11\n")
    assert (done.returncode, done.stdout) == (0, "no image to archive\n")
    assert calls == ["image ls --format {{.Repository}}:{{.Tag}}"]


@pytest.mark.integration
def test_the_load_step_loads_every_cached_archive(tmp_path: Path) -> None:
    images = tmp_path / "home" / ".cache" / "appliance" / "images"
    done, calls = run_kind_step("Load the image archive", tmp_path, "")
    assert (done.returncode, calls) == (0, [])  # a cache miss: nothing to load
    images.mkdir(parents=True)
    (images / "profile.tar").write_bytes(b"")
    done, calls = run_kind_step("Load the image archive", tmp_path, "")
    assert (done.returncode, calls) == (0, [f"load --input {images / 'profile.tar'}"])


def run_lock_diff(tmp_path: Path, new_lock: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The lock job's diff step in a git checkout whose lock `appliance lock` rewrote to `new_lock`."""
    [step] = [s for s in workflow("lock.yml")["jobs"]["lock"]["steps"] if s.get("id") == "diff"]
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    lock = repo / "profiles" / "images.lock.yaml"
    lock.write_text("images:\n  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z: sha256:aaaa\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True, timeout=60)
    subprocess.run([*git, "add", "."], check=True, timeout=60)
    subprocess.run([*git, "commit", "--quiet", "-m", "lock"], check=True, timeout=60)
    lock.write_text(new_lock)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    return done, repo


@pytest.mark.integration
def test_the_lock_job_proposes_changed_digests(tmp_path: Path) -> None:
    changed = "images:\n  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z: sha256:bbbb\n"
    done, repo = run_lock_diff(tmp_path, changed)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "output").read_text() == "changed=true\n"
    assert done.stdout == ("::warning file=profiles/images.lock.yaml::image digests changed upstream; "
                           "see the job summary\n")
    diff = (repo / "proposal" / "images-lock.diff").read_text()
    assert "-  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z: sha256:aaaa" in diff
    assert "+  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z: sha256:bbbb" in diff
    assert (repo / "proposal" / "images.lock.yaml").read_text() == changed
    summary = (tmp_path / "summary").read_text()
    assert summary.startswith("## Image digests changed\n") and diff in summary


@pytest.mark.integration
def test_the_lock_job_proposes_nothing_when_nothing_changed(tmp_path: Path) -> None:
    unchanged = "images:\n  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z: sha256:aaaa\n"
    done, repo = run_lock_diff(tmp_path, unchanged)
    assert (done.returncode, done.stdout) == (0, "")
    assert (tmp_path / "output").read_text() == "changed=false\n"
    summary = (tmp_path / "summary").read_text()
    assert summary == "Every locked image still resolves to its committed digest.\n"
    assert sorted(p.name for p in (repo / "proposal").iterdir()) == ["images-lock.diff"]
