"""FakeCluster keeps and refuses fields as a real API server does (fake_schemas.py): a custom
resource is pruned to its CRD's structural schema and refused when it breaks it, a built-in object
loses the fields its kind does not have; every lost field is a warning."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cluster_objects import container, crd, custom, deployment, namespace
from fake_cluster import FakeCluster

from appliance.targets.cluster.client import ApiError, ObjRef

Obj = dict[str, Any]
GADGET = ObjRef("example.dev/v1", "Gadget", "g1", "apps")
STRING: Obj = {"type": "string"}
SCHEMA: Obj = {
    "type": "object",
    "properties": {
        "apiVersion": STRING, "kind": STRING, "metadata": {"type": "object"},
        "spec": {
            "type": "object", "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                "port": {"x-kubernetes-int-or-string": True,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "note": {"type": "string", "nullable": True},
                "tags": {"type": "array", "maxItems": 2,
                         "items": {"type": "object", "properties": {"key": STRING}}},
                "labels": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"value": STRING}}},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"known": {"type": "object", "properties": {"a": STRING}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object",
                                                     "properties": {"replicas": {"type": "integer"}}}}},
                "opaque": {"type": "object"},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def cluster(schema: Obj | None = SCHEMA) -> FakeCluster:
    fake = FakeCluster(crd_names_after=0, crd_established_after=0)
    definition = crd(kind="Gadget", plural="gadgets", schema=schema)
    if schema is None:
        del definition["spec"]["versions"][0]["schema"]
    fake.apply([namespace("apps"), definition])
    fake.advance(1)
    return fake


def gadget(**spec: Any) -> Obj:
    return custom("g1", kind="Gadget", spec=spec)


def refusal(fake: FakeCluster, obj: Obj) -> str:
    with pytest.raises(ApiError) as refused:
        fake.apply([obj])
    assert (refused.value.status, refused.value.reason) == (422, "Invalid")
    return refused.value.message


def test_fields_the_schema_does_not_declare_are_pruned_each_with_a_warning() -> None:
    fake = cluster()
    obj = gadget(size=2, sise=3, mode=None, note=None,
                 tags=[{"key": "a", "value": "x"}],
                 labels={"team": {"value": "ml", "color": "red"}},
                 raw={"anything": {"deep": [1]}, "known": {"a": "b", "z": 1}},
                 template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1},
                           "spec": {"replicas": 1, "x": 2}, "other": 1},
                 opaque={"a": 1})
    obj["metadata"]["colour"] = "blue"
    stored = fake.apply([obj])[0]
    assert [(ref, text) for ref, text in fake.warnings] == [(GADGET, f'unknown field "{path}"') for path in (
        "metadata.colour", "spec.labels.team.color", "spec.opaque.a", "spec.raw.known.z", "spec.sise",
        "spec.tags[0].value", "spec.template.metadata.bogus", "spec.template.other",
        "spec.template.spec.x")]
    # Under preserve-unknown-fields anything stays but declared fields are still pruned; an
    # embedded resource keeps apiVersion, kind and ObjectMeta's fields; `type: object` without
    # properties keeps nothing; a null for a non-nullable field goes silently.
    assert stored["spec"] == {
        "size": 2, "note": None, "tags": [{"key": "a"}], "labels": {"team": {"value": "ml"}},
        "raw": {"anything": {"deep": [1]}, "known": {"a": "b"}},
        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"replicas": 1}},
        "opaque": {}}
    assert "colour" not in stored["metadata"]
    assert fake.get(GADGET)["spec"] == stored["spec"]
    # The pruned fields were never owned: applying the same object again changes nothing.
    version = stored["metadata"]["resourceVersion"]
    assert fake.apply([obj])[0]["metadata"]["resourceVersion"] == version


def test_a_custom_resource_breaking_its_schema_is_refused_in_the_api_servers_words() -> None:
    fake = cluster()
    assert refusal(fake, gadget(size="big")) == (
        'Gadget.example.dev "g1" is invalid: spec.size: Invalid value: "string": spec.size in body must be '
        'of type integer: "string"')
    assert refusal(fake, gadget(mode="fast")) == \
        'Gadget.example.dev "g1" is invalid: spec.size: Required value'
    assert refusal(fake, gadget(size=0, mode="slow", name="Abcdefghij", tags=[{}, {}, {}])) == (
        'Gadget.example.dev "g1" is invalid: ['
        "spec.mode: Unsupported value: \"slow\": supported values: \"fast\", \"safe\", "
        "spec.name: Invalid value: \"Abcdefghij\": spec.name in body should match '^[a-z]+$', "
        "spec.name: Too long: may not be more than 8 bytes, "
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1, "
        "spec.tags: Too many: 3: must have at most 2 items]")
    assert refusal(fake, gadget(size=11, port=True, template={"spec": {}})) == (
        'Gadget.example.dev "g1" is invalid: ['
        '<nil>: Invalid value: "": "spec.port" must validate at least one schema (anyOf), '
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean", '
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean", '
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10, "
        "spec.template.apiVersion: Required value, spec.template.kind: Required value]")
    assert fake.get(GADGET) is None and fake.warnings == []
    # Valid: an int-or-string either way, a whole float for an integer, null where nullable.
    fake.apply([gadget(size=2.0, port="http", note=None)])
    fake.apply([gadget(size=3, port=8080)])
    assert fake.get(GADGET)["spec"] == {"size": 3, "port": 8080}


def test_the_merged_object_is_validated_and_a_refused_update_changes_nothing() -> None:
    fake = cluster()
    fake.apply([gadget(size=2, mode="fast")])
    # Another manager sets only what it owns: the merged object still has its required size.
    fake.apply([gadget(name="ab")], field_manager="other")
    before = fake.get(GADGET)
    assert before["spec"] == {"size": 2, "mode": "fast", "name": "ab"}
    assert refusal(fake, gadget(size=2, mode="slow")).endswith(
        'spec.mode: Unsupported value: "slow": supported values: "fast", "safe"')
    assert fake.get(GADGET) == before
    # Ownership is untouched by the refusal: dropping `mode` from the applied config removes it.
    fake.apply([gadget(size=2)])
    assert fake.get(GADGET)["spec"] == {"size": 2, "name": "ab"}


def test_a_crd_version_without_a_schema_keeps_every_field() -> None:
    fake = cluster(schema=None)
    obj = gadget(size="anything", extra={"deep": 1})
    obj["metadata"]["colour"] = "blue"
    stored = fake.apply([obj])[0]
    assert stored["spec"] == {"size": "anything", "extra": {"deep": 1}}
    assert stored["metadata"]["colour"] == "blue" and fake.warnings == []


def test_a_schema_that_preserves_unknown_fields_keeps_the_spec_but_not_unknown_metadata() -> None:
    fake = cluster(schema={"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    obj = gadget(anything={"goes": [1, {"x": None}]})
    obj["metadata"]["colour"] = "blue"
    stored = fake.apply([obj])[0]
    assert stored["spec"] == {"anything": {"goes": [1, {"x": None}]}}
    assert fake.warnings == [(GADGET, 'unknown field "metadata.colour"')]


def test_built_in_kinds_drop_the_fields_their_schema_does_not_know() -> None:
    fake = FakeCluster()
    fake.apply([namespace("apps")])
    web = deployment("web", containers=[container("web", imagePullPolcy="Always")])
    web["metadata"]["labelz"] = {"a": "b"}
    web["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailabel": 0}}
    web["spec"]["template"]["spec"]["nodeSelectr"] = {"a": "b"}
    sent = copy.deepcopy(web)
    stored = fake.apply([web])[0]
    ref = ObjRef("apps/v1", "Deployment", "web", "apps")
    assert fake.warnings == [(ref, f'unknown field "{path}"') for path in (
        "metadata.labelz", "spec.strategy.rollingUpdate.maxUnavailabel",
        "spec.template.spec.containers[0].imagePullPolcy", "spec.template.spec.nodeSelectr")]
    assert web == sent  # the caller's object is untouched
    assert stored["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    assert "nodeSelectr" not in stored["spec"]["template"]["spec"] and "labelz" not in stored["metadata"]
    assert "imagePullPolcy" not in stored["spec"]["template"]["spec"]["containers"][0]
    # The pods the Deployment makes come from what was kept.
    fake.advance(2)
    [pod] = fake.list("v1", "Pod", "apps")
    assert "imagePullPolcy" not in pod["spec"]["containers"][0]


def test_the_cluster_version_picks_the_built_in_schema() -> None:
    # spec.trafficDistribution is a Service field since Kubernetes 1.30 (kubernetes-validate's
    # 1.29 schema does not have it).
    service: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "apps"},
                    "spec": {"ports": [{"port": 80}], "trafficDistribution": "PreferClose"}}
    old, new = FakeCluster(version="v1.29.4"), FakeCluster(version="v1.34.11")
    for fake in (old, new):
        fake.apply([namespace("apps")])
        fake.apply([copy.deepcopy(service)])
    assert old.warnings == [(ObjRef("v1", "Service", "s", "apps"),
                             'unknown field "spec.trafficDistribution"')]
    assert new.warnings == []
