"""Loading: line numbers, errors with file and line, CRD schema skipping, fingerprint stability."""

from __future__ import annotations

import pytest
import yaml

from appliance.errors import InvalidDocument
from appliance.review.loader import load_paths, load_text

TWO_DOCS = """# leading comment
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: i
    securityContext:
      privileged: true
"""


def test_documents_and_field_lines() -> None:
    docs = load_text(TWO_DOCS, "x.yaml")
    assert [(d.kind, d.index) for d in docs] == [("ConfigMap", 0), ("Pod", 1)]
    pod = docs[1]
    assert pod.line_of(()) == 6
    assert pod.line_of(("spec", "containers", 0)) == 12
    assert pod.line_of(("spec", "containers", 0, "securityContext", "privileged")) == 15
    # A field that does not exist points at its deepest existing parent.
    assert pod.line_of(("spec", "containers", 0, "securityContext", "runAsNonRoot")) == 15 - 1


def test_unparseable_yaml_names_file_and_line_and_reports_every_document() -> None:
    text = "apiVersion: v1\nkind: A\nmetadata: {name: a\n---\napiVersion: v1\nkind: B\n  x: 1\n"
    with pytest.raises(InvalidDocument) as info:
        load_text(text, "broken.yaml")
    rendered = info.value.render()
    assert rendered.startswith("broken.yaml: 2 problem(s)")
    assert "line 4, column 1" in rendered and "line 7, column 4" in rendered
    assert info.value.exit_code == 2


def test_non_objects_are_bad_input() -> None:
    with pytest.raises(InvalidDocument) as info:
        load_text("- a\n- b\n---\nfoo: bar\n", "list.yaml")
    assert info.value.problems == [
        "document starting at line 1: expected a Kubernetes object (a mapping), got a list",
        "document starting at line 3: missing apiVersion and kind (not a Kubernetes object)",
    ]


def test_missing_file_is_bad_input(tmp_path) -> None:
    from appliance.errors import BadInput

    with pytest.raises(BadInput, match="no such file"):
        load_paths([str(tmp_path / "nope.yaml")])


def test_v1_list_items_are_objects_with_their_own_lines() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n"
    [doc] = load_text(text, "list.yaml")
    assert doc.kind == "Pod" and doc.line_of(("metadata", "name")) == 6


def test_directives_and_document_end_markers_take_the_slow_path() -> None:
    text = "%YAML 1.1\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n...\n---\n" \
           "apiVersion: v1\nkind: B\nmetadata: {name: b}\n"
    docs = load_text(text, "d.yaml")
    assert [d.kind for d in docs] == ["A", "B"]
    assert docs[1].line_of(("metadata",)) == 10


CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: |
              text with a colon: and
              more
  - name: v2
    served: false
    storage: false
"""


def test_crd_schemas_are_skipped_but_everything_else_is_kept() -> None:
    [doc] = load_text(CRD, "crd.yaml")
    full = yaml.safe_load(CRD)
    del full["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    doc.obj["spec"]["versions"][0]["schema"].pop("openAPIV3Schema")
    assert doc.obj == full
    assert doc.line_of(("spec", "versions", 1, "name")) == 21


def test_fingerprints_survive_whitespace_and_line_changes(review_yaml) -> None:
    base = """
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: apps}
spec:
  containers:
  - name: c
    image: r/i:latest
    securityContext: {privileged: true}
"""
    shifted = "# a comment\n\n\n" + base.replace("  containers:", "  hostNetwork: false\n"
                                                "  containers:").replace("{privileged: true}",
                                                                         "\n      privileged: true")
    first, second = review_yaml(base), review_yaml(shifted)
    assert [f.fingerprint for f in first.findings] == [f.fingerprint for f in second.findings]
    assert [f.location.line for f in first.findings if f.location] != \
        [f.location.line for f in second.findings if f.location]
