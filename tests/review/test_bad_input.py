"""Bad input to `appliance review`: empty input, malformed shapes, alias bombs, exceptions, versions."""

from __future__ import annotations

import io

import pytest
from cli_in_process import run, write

from appliance.errors import InvalidDocument
from appliance.review import loader, shapes

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n"


def test_empty_input_is_bad_input_not_a_pass(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(["review", "-f", "-"], capsys)
    assert (code, out) == (2, "")
    assert err == ("error: -: no Kubernetes objects to review: the input is empty or holds only "
                   "comments (fix: pass manifests with apiVersion and kind (is the producing "
                   "command failing?))\n")
    code, _, err = run(["review", "-f", write(tmp_path, "empty.yaml", "# nothing\n---\n")], capsys)
    assert code == 2
    assert "empty.yaml: no Kubernetes objects to review" in err


MALFORMED = [
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: 5\n",
     "5: spec.ports must be a list, got a number (5)"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  volumes: 5\n"
     "  containers: [{name: c, image: x}]\n",
     "5: spec.volumes must be a list, got a number (5)"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: 5\n",
     "5: spec.containers must be a list, got a number (5)"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: [1]\n",
     "4: spec must be a mapping, got a list"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: 5\n",
     "4: rules must be a list, got a number (5)"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: r}\n"
     "roleRef: 5\n",
     "4: roleRef must be a mapping, got a number (5)"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
     "    spec:\n      containers:\n      - name: c\n        ports: [8080]\n",
     "9: spec.template.spec.containers[0].ports[0] must be a mapping, got a number (8080)"),
]


@pytest.mark.parametrize(("text", "problem"), MALFORMED)
def test_malformed_shapes_are_bad_input_with_file_line_and_field(
        tmp_path, capsys, text: str, problem: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    code, out, err = run(["review", "-f", path], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: {path}: 1 problem(s)", f"  - {path}:{problem}",
        "  fix: give each field the type the Kubernetes API defines (a list or a mapping as shown)"]


def test_well_shaped_objects_pass_the_shape_check() -> None:
    docs = loader.load_text(CM + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                            "spec: {containers: [{name: c, image: x, ports: [{containerPort: 1}]}],"
                            " volumes: []}\n", "ok.yaml")
    shapes.check(docs)  # raises on any problem
    assert len(docs) == 2


def _bomb(levels: int) -> str:
    lines = [CM.rstrip("\n"), "data:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_before_it_is_walked(tmp_path, capsys) -> None:
    path = write(tmp_path, "bomb.yaml", _bomb(9))
    code, _, err = run(["review", "-f", path], capsys)
    assert code == 2
    assert "  - line 1: YAML aliases expand this document by 4412961486 nodes, more than the " \
           "10000 allowed (Kubernetes manifests do not need aliases; write the values out)" in err
    # The same through the whole-stream path (a `...` document end selects it).
    with pytest.raises(InvalidDocument) as bad:
        loader.load_text(_bomb(9) + "...\n", "bomb.yaml")
    assert bad.value.problems == [
        "line 1: YAML aliases expand this document by 4412961486 nodes, more than the 10000 "
        "allowed (Kubernetes manifests do not need aliases; write the values out)"]


def test_recursive_alias_and_small_alias_use() -> None:
    with pytest.raises(InvalidDocument) as bad:
        loader.load_text(CM + "data: &d {x: *d}\n", "loop.yaml")
    assert bad.value.problems == [
        "line 4: a YAML alias refers to the node that contains it (Kubernetes manifests do not "
        "need aliases; write the values out)"]
    # A few aliases within the budget are still valid YAML and load.
    docs = loader.load_text(_bomb(2), "small.yaml")
    assert docs[0].obj["data"]["a2"][0] == docs[0].obj["data"]["a1"]


EXC_CASES = [
    ("exceptions: []\n1: 2\nfoo: 3\n", ["1: unknown field", "foo: unknown field"]),
    ("exceptions:\n- rule: pss.restricted.seccomp\n  resource: Pod/a/b\n  reason: x\n"
     "  expires: 2099-13-45\n",
     ["exceptions[0].expires: expected a date YYYY-MM-DD, got '2099-13-45'"]),
    ("exceptions:\n- rule: pss.restricted.seccomp\n  resource: {kind: Pod, name: b, 7: x}\n"
     "  reason: x\n  9: y\n",
     ["exceptions[0].9: unknown field", "exceptions[0].resource.7: unknown field"]),
]


@pytest.mark.parametrize(("text", "problems"), EXC_CASES)
def test_bad_exceptions_files_name_the_field(tmp_path, capsys, text: str,
                                             problems: list[str]) -> None:
    manifest = write(tmp_path, "cm.yaml", CM)
    exc = write(tmp_path, "exc.yaml", text)
    code, out, err = run(["review", "-f", manifest, "--exceptions", exc], capsys)
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == f"error: {exc}: {len(problems)} problem(s)"
    assert lines[1:-1] == [f"  - {p}" for p in problems]


def test_kubernetes_version_newer_than_known_is_refused(tmp_path, capsys) -> None:
    code, out, err = run(["review", "-f", write(tmp_path, "cm.yaml", CM),
                          "--kubernetes-version", "1.99"], capsys)
    assert (code, out) == (2, "")
    assert err == ("error: --kubernetes-version: Kubernetes version '1.99' is newer than the "
                   "newest known here (1.37) (fix: pass X.Y up to 1.37, or latest)\n")
