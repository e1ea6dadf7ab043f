"""The shared Kubernetes vocabulary (appliance.k8s): data, refs, selectors, images (fast tier)."""

from __future__ import annotations

import pytest

from appliance.k8s.data import as_dict, as_list, conditions, field_path
from appliance.k8s.images import ImageRef, split_image
from appliance.k8s.refs import ResourceRef
from appliance.k8s.selectors import selector_matches

DIGEST = "sha256:" + "ab" * 32


def test_as_dict_and_as_list_return_the_value_itself_or_an_empty_one() -> None:
    mapping, items = {"a": 1}, [1]
    assert as_dict(mapping) is mapping and as_list(items) is items
    assert [as_dict(v) for v in (None, [], "x", 0)] == [{}, {}, {}, {}]
    assert [as_list(v) for v in (None, {}, "x", 0)] == [[], [], [], []]


def test_resource_ref_parses_prints_and_sorts() -> None:
    ref = ResourceRef.parse("Deployment/demo/web")
    assert (str(ref), ref.as_record()) == (
        "Deployment/demo/web", {"kind": "Deployment", "namespace": "demo", "name": "web"})
    assert str(ResourceRef.parse("ClusterRole/view")) == "ClusterRole/view"
    assert ResourceRef.of({"kind": "Service", "metadata": {"name": "s"}}) == ResourceRef("Service", "", "s")
    view = ResourceRef("ClusterRole", "", "view")
    assert sorted([ref, view]) == [view, ref]
    with pytest.raises(ValueError, match=r"^expected Kind/name or Kind/namespace/name, got 'a/b/c/d'$"):
        ResourceRef.parse("a/b/c/d")


@pytest.mark.parametrize(("selector", "labels", "selected"), [
    (None, {}, True),
    ({}, {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "x"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({"matchLabels": {"app": "web"}}, {}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]}, {"app": "db"}, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, {}, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, {}, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, {"app": "web"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": ""}, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": ""}, False),
    # Both parts must hold.
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]},
     {"app": "web"}, False),
    # Values compare as text (YAML may read a label value as a number); malformed parts read as empty.
    ({"matchLabels": {"version": 1}}, {"version": "1"}, True),
    ({"matchLabels": ["app"], "matchExpressions": "app"}, {}, True),
])
def test_selector_matches_label_selector_semantics(selector: object, labels: dict[str, str],
                                                   selected: bool) -> None:
    assert selector_matches(selector, labels) is selected


@pytest.mark.parametrize(("image", "split", "parsed"), [
    ("nginx", ("nginx", "", ""), ImageRef("docker.io", "library/nginx", "latest", "")),
    ("kserve/agent:v1", ("kserve/agent", "v1", ""), ImageRef("docker.io", "kserve/agent", "v1", "")),
    ("localhost:5000/a/b:1", ("localhost:5000/a/b", "1", ""), ImageRef("localhost:5000", "a/b", "1", "")),
    ("localhost:5000/a", ("localhost:5000/a", "", ""), ImageRef("localhost:5000", "a", "latest", "")),
    (f"quay.io/x/y@{DIGEST}", ("quay.io/x/y", "", DIGEST), ImageRef("quay.io", "x/y", "", DIGEST)),
    (f"quay.io/x/y:2@{DIGEST}", ("quay.io/x/y", "2", DIGEST), ImageRef("quay.io", "x/y", "2", DIGEST)),
])
def test_split_image_keeps_what_is_written_and_parse_normalises(
        image: str, split: tuple[str, str, str], parsed: ImageRef) -> None:
    assert split_image(image) == split
    assert ImageRef.parse(image) == parsed


def test_split_image_never_fails_where_parse_refuses() -> None:
    assert split_image("UPPER/Case:Tag") == ("UPPER/Case", "Tag", "")
    with pytest.raises(ValueError, match=r"^not an image reference: 'UPPER/Case:Tag'$"):
        ImageRef.parse("UPPER/Case:Tag")


def test_conditions_are_keyed_by_type_and_malformed_ones_read_as_empty() -> None:
    obj = {"status": {"conditions": [{"type": "Ready", "status": "False"}, "junk",
                                     {"type": "Ready", "status": "True"}]}}
    assert conditions(obj) == {"Ready": {"type": "Ready", "status": "True"}, "None": {}}
    assert conditions({"status": None}) == conditions(None) == conditions({}) == {}


def test_field_paths_are_written_as_the_api_server_writes_them() -> None:
    assert field_path(("spec", "containers", 0, "name")) == "spec.containers[0].name"
    assert field_path(()) == ""
    assert field_path((2, "x")) == "[2].x"
