"""`appliance render` / `appliance fetch` end to end (exit codes, files) and docs/profiles.md examples."""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from pathlib import Path

import pytest
import yaml
from checkout import REPO_ROOT
from cli_in_process import run

from appliance.config import profile as profiles
from appliance.inventory import inventory
from appliance.render import Bundle, render_profile

DOC = REPO_ROOT / "docs" / "profiles.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_render_to_file_and_directory(upstream_cache: Path, tmp_path: Path, yamls: dict[str, str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["render", "--profile", "serving", "-o", str(tmp_path / "s.yaml")], capsys)
    assert code == 0 and out == ""
    assert (tmp_path / "s.yaml").read_text() == yamls["serving"]
    assert "0/6 images pinned by digest" in err
    code, _, _ = run(["render", "--profile", "serving", "-o", str(tmp_path / "dir")], capsys)
    files = sorted(p.name for p in (tmp_path / "dir").iterdir())
    assert files[:2] == ["000-namespace-appliance-workloads.yaml", "001-namespace-kserve.yaml"]
    assert files[-1] == "hardening.json"
    # One document per file, in apply order: together they are the single-file bundle.
    assert "".join((tmp_path / "dir" / f).read_text() for f in files[:-1]) == yamls["serving"]
    assert yaml.safe_load((tmp_path / "dir" / files[0]).read_text())["kind"] == "Namespace"
    report = json.loads((tmp_path / "dir" / "hardening.json").read_text())
    assert report["profile"] == "serving" and report["exceptions"][0]["rule"] == "rbac.secrets-cluster-wide"
    # Catalog patches are recorded with their reasons, next to the transforms' changes.
    assert {"transform": "image-pull-policy",
            "resource": {"kind": "Deployment", "namespace": "kserve", "name": "kserve-controller-manager"},
            "path": "spec.template.spec.containers[0].imagePullPolicy",
            "detail": "Always -> IfNotPresent"} in report["changes"]
    assert {"transform": "catalog",
            "resource": {"kind": "Deployment", "namespace": "kserve", "name": "kserve-controller-manager"},
            "path": "spec.template.spec.containers[1]",
            "detail": "remove-container: kube-rbac-proxy only fronts the metrics endpoint, which stays on "
                      "127.0.0.1."} in report["changes"]
    patches = [c for c in report["changes"]
               if c["transform"] == "catalog" and c["path"] not in ("metadata.namespace", "")]
    assert patches and all(len(c["detail"].split(": ", 1)[1].split()) >= 5 for c in patches)


def test_render_errors_have_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["render", "--profile", "nope"], capsys)
    assert code == 2 and "unknown profile 'nope'" in err and "Traceback" not in err
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path))
    code, _, err = run(["render", "--profile", "minimal"], capsys)
    assert code == 3
    assert "upstream source 'kfp-2.17.0' (kfp-platform-agnostic-2.17.0.yaml) is not in the cache" in err
    assert "run `appliance fetch`" in err
    code, _, err = run(["render", "--profile", "minimal", "--profile", "serving"], capsys)
    assert code == 2 and "render takes one --profile" in err


def test_fetch_from_directory(upstream: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path / "cache"))
    code, _, err = run(["fetch", "--profile", "serving", "--from", str(upstream)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "kserve-rawdeployment-v0.20.0.yaml", "kserve-runtimes-v0.20.0.yaml"]
    assert "2 source(s) verified" in err


def test_docs_profile_example_loads_and_renders(
        upstream_cache: Path, tmp_path: Path, bundles: dict[str, Bundle]) -> None:
    [example] = [b for b in blocks("yaml") if "kind: Profile" in b]
    path = tmp_path / "pipelines-only.yaml"
    path.write_text(example)
    profile = profiles.load(str(path))
    assert (profile.name, profile.components, profile.posture) == (
        "pipelines-only", ("object-store", "pipelines"), "restricted")
    rendered = render_profile(str(path))
    assert (rendered.profile, rendered.components) == ("pipelines-only", ("object-store", "pipelines"))
    # The same components and posture as the shipped `minimal`: exactly its 68 objects, but for
    # the profile label each object carries.
    text = rendered.to_yaml()
    assert text.count("appliance.dev/profile: pipelines-only") == text.count("pipelines-only") == 68
    assert text.replace("appliance.dev/profile: pipelines-only", "appliance.dev/profile: minimal") == \
        bundles["minimal"].to_yaml()
    assert Counter(o["kind"] for o in rendered.objects) == {
        "NetworkPolicy": 20, "CustomResourceDefinition": 9, "ServiceAccount": 7, "ConfigMap": 6,
        "Deployment": 6, "Role": 4, "RoleBinding": 4, "Service": 4, "Secret": 3, "Namespace": 2,
        "PersistentVolumeClaim": 2, "PriorityClass": 1}


def test_docs_commands_run(upstream_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    [commands] = blocks("sh")
    lines = [line for line in commands.splitlines() if line.strip()]
    assert len(lines) == 6
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "appliance"
        code, out, err = run(argv[1:], capsys)
        assert code == 0, (line, err)
        if "--format" in argv:
            assert [row["name"] for row in json.loads(out)] == ["serving", "kubeflow-platform-26.03 (full)"]
    assert (tmp_path / "minimal.yaml").is_file() and (tmp_path / "standard" / "hardening.json").is_file()


def test_docs_figures_match_the_inventory(bundles: dict[str, Bundle]) -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| [^|]+\| (\d+ \| \d+) MiB \|$", DOC.read_text(), re.MULTILINE))
    images = dict(re.findall(r"^\| `(\w+)` \| (\d+ \| \d+) \|$", DOC.read_text(), re.MULTILINE))
    for name, bundle in bundles.items():
        figures = inventory(name, bundle.objects)
        assert rows[name] == f"{figures.pods} | {figures.memory_requests_mib}", name
        assert images[name] == f"{figures.images} | {figures.runtime_images}", name


PROC = Path("/proc/self")
OUTPUT_FIX = "(fix: choose another -o path in a directory you can write)"


def test_render_output_paths_that_cannot_be_written_exit_2_before_rendering(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # An empty cache: were the profile rendered first, the error would be the missing source (3).
    monkeypatch.setenv("APPLIANCE_CACHE", str(tmp_path / "empty"))
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    (tmp_path / "dir.yaml").mkdir()
    cases = {
        (str(a_file / "b.yaml"),):
            f"-o {a_file / 'b.yaml'}: cannot write: {a_file} is not a directory {OUTPUT_FIX}",
        (str(tmp_path / "dir.yaml"),): f"-o {tmp_path / 'dir.yaml'}: cannot write: it is a directory "
                                       "(fix: give a file path)",
        (str(a_file),): f"-o {a_file}: cannot write: it exists and is not a directory "
                        "(fix: give a directory, or a path ending in .yaml for one multi-document file)",
        ("--inventory", str(a_file / "sub" / "inv.txt")):
            f"-o {a_file / 'sub' / 'inv.txt'}: cannot write: {a_file} is not a directory {OUTPUT_FIX}",
    }
    for args, expected in cases.items():
        *flags, target = args
        code, out, err = run(["render", *flags, "--profile", "minimal", "-o", target], capsys)
        assert (code, out, err.splitlines()) == (2, "", [f"error: {expected}"])


@pytest.mark.skipif(not PROC.is_dir(), reason="needs Linux /proc (a directory nobody can create files in)")
def test_render_to_proc_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Root passes os.access on /proc; the check must probe for real.
    for args, entry in ((["--profile", "minimal", "-o", "/proc/x.yaml"], "file"),
                        (["--inventory", "-o", "/proc/nope/f"], "directory")):
        code, out, err = run(["render", *args], capsys)
        target = args[-1]
        assert (code, out, err.splitlines()) == (
            2, "", [f"error: -o {target}: cannot write: creating a {entry} in /proc failed: No such file "
                    f"or directory {OUTPUT_FIX}"])


@pytest.mark.skipif(not PROC.is_dir(), reason="needs Linux /proc (a directory nobody can create files in)")
def test_write_errors_the_check_cannot_foresee_are_bad_input() -> None:
    from appliance.errors import BadInput
    from appliance.runtime.output import write_text

    with pytest.raises(BadInput) as info:
        write_text(Path("/proc/x.yaml"), "a: 1\n", "-o")
    assert info.value.render() == f"-o /proc/x.yaml: cannot write: No such file or directory {OUTPUT_FIX}"


def test_render_refuses_a_profile_name_that_is_no_label_value(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: appliance.dev/v1alpha1\nkind: Profile\nmetadata: {name: Bad Name!}\n"
                    "spec: {components: [object-store]}\n")
    code, out, err = run(["render", "--profile", str(path)], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[1:] == [
        f"error: {path}: 1 problem(s)",
        "  - metadata.name: 'Bad Name!' is not a DNS-1123 label (lowercase letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters); it becomes the "
        "appliance.dev/profile label value",
        "  fix: see profiles/ for valid examples",
    ]
