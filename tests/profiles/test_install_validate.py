"""Install-time materialisation (credentials, webhook TLS) and offline schema validation."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import pytest
from cryptography import x509

from appliance.errors import BadInput
from appliance.render.install import materialize
from appliance.render.validate import validate


def secret(name: str, annotations: dict[str, str], kind: str = "Opaque") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name, "namespace": "ns", "annotations": annotations}}


WEBHOOK = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "hook", "annotations": {"appliance.dev/inject-ca-from": "ns/tls"}},
    "webhooks": [{"name": "a.example.org", "clientConfig": {"service": {"name": "svc", "namespace": "ns"}},
                  "admissionReviewVersions": ["v1"], "sideEffects": "None"}],
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_shared_credentials_get_one_value_and_values_are_reused() -> None:
    counter = itertools.count()
    objects = [secret("a", {"appliance.dev/generated-keys": "user=s3-key,pass=s3-secret"}),
               secret("b", {"appliance.dev/generated-keys": "accesskey=s3-key"})]
    first = materialize(objects, token=lambda: f"v{next(counter)}")
    assert first.values == {"s3-key": "v1", "s3-secret": "v0"}
    # base64 data only: server-side apply must not own a write-only stringData field.
    assert first.objects[0]["data"] == {"pass": b64("v0"), "user": b64("v1")}
    assert first.objects[1]["data"] == {"accesskey": b64("v1")}
    assert not any("stringData" in o for o in first.objects)
    assert "data" not in objects[0]  # the rendered bundle stays secret-free
    again = materialize(objects, first.values, token=lambda: "never used")
    assert again.objects == first.objects


def test_literal_string_data_becomes_data_too() -> None:
    literal = secret("c", {"appliance.dev/generated-keys": "password=db"})
    literal["stringData"] = {"user": "admin", "password": "overridden"}
    literal["data"] = {"user": b64("old"), "port": b64("5432")}
    [done] = materialize([literal], {"db": "s3cret"}).objects
    assert "stringData" not in done
    assert done["data"] == {"password": b64("s3cret"), "port": b64("5432"), "user": b64("admin")}


def test_webhook_certificate_issued_and_ca_bundle_patched() -> None:
    tls = secret("tls", {"appliance.dev/generated-tls": "svc.ns.svc,svc.ns.svc.cluster.local"},
                 "kubernetes.io/tls")
    done = materialize([tls, WEBHOOK])
    assert "stringData" not in done.objects[0]
    data = {k: base64.b64decode(v).decode() for k, v in done.objects[0]["data"].items()}
    assert sorted(data) == ["ca.crt", "tls.crt", "tls.key"]
    ca = x509.load_pem_x509_certificate(data["ca.crt"].encode())
    cert = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["svc.ns.svc", "svc.ns.svc.cluster.local"]
    bundle = done.objects[1]["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(bundle).decode() == data["ca.crt"]
    assert materialize([tls, WEBHOOK], done.values).objects == done.objects


def test_ca_from_an_unknown_secret_is_bad_input() -> None:
    with pytest.raises(BadInput, match="asks for the CA of Secret ns/tls"):
        materialize([WEBHOOK])


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.org"},
    "spec": {"group": "example.org", "scope": "Namespaced",
             "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "properties": {"spec": {"type": "object", "required": ["size"],
                                         "properties": {"size": {"type": "integer", "minimum": 1}}}}}}}]},
}


def test_builtin_kinds_are_strict_and_custom_resources_use_their_crd() -> None:
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"},
            "data": {"k": "v"}}
    typo = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
            "spec": {"prots": [{"port": 80}]}}
    widget = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "n"},
              "spec": {"size": 0}}
    orphan = {"apiVersion": "other.org/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    assert validate([good, CRD], "1.32") == []
    problems = validate([typo, CRD, widget, orphan], "1.32")
    assert problems[0].startswith("Service/n/s spec: Additional properties are not allowed ('prots'")
    assert problems[1:] == [
        "Widget/n/w spec.size: 0 is less than the minimum of 1",
        "Gadget/g: no schema for other.org/v1 Gadget in Kubernetes 1.32 or in a CRD of the bundle",
    ]
