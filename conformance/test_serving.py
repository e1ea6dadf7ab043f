"""Serving: a deployed stub model answers KServe v1 and v2 with exactly the stub's predictions;
malformed requests get 4xx and the server keeps serving on the same keep-alive connection."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from conformance.deployments import ServingSandbox
from conformance.instruments import StubDataset, StubModels

pytestmark = [pytest.mark.conformance_area("serving"), pytest.mark.requires_component("serving")]

TIMEOUT = 30


def v2_body(rows: list[list[float]], request_id: str = "conformance") -> dict[str, Any]:
    """The stub server's v2 contract: one FP64 tensor `input-0` of shape [n, 4], row-major."""
    return {
        "id": request_id,
        "inputs": [
            {
                "name": "input-0",
                "shape": [len(rows), len(rows[0]) if rows else 4],
                "datatype": "FP64",
                "data": [value for row in rows for value in row],
            }
        ],
    }


def v2_labels(answer: dict[str, Any]) -> list[int]:
    [output] = answer["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == (
        "output-0", "INT64", [len(output["data"])]
    )
    return list(output["data"])


def test_v1_and_v2_predictions_equal_the_stub_exactly(
    serving: ServingSandbox, stub_model: StubModels, stub_dataset: StubDataset
) -> None:
    model = stub_model(accuracy=0.828, groups={"a": 0.9, "b": 0.72}, name="exact")
    endpoint = serving.deploy(model)
    rows, expected = stub_dataset.features, model.predict(stub_dataset.features)
    # What the stub promises on this dataset (600 rows in group a, 400 in b): 540 and 288 right.
    right = {
        g: sum(p == r.label for p, r in zip(expected, stub_dataset.records, strict=True) if r.group == g)
        for g in ("a", "b")
    }
    assert right == {"a": 540, "b": 288}

    with requests.Session() as http:
        v1 = http.post(endpoint.v1_url, json={"instances": rows}, timeout=TIMEOUT)
        assert v1.status_code == 200, v1.text[:300]
        assert v1.json() == {"predictions": expected}

        v2 = http.post(endpoint.v2_url, json=v2_body(rows, "conformance-exact"), timeout=TIMEOUT)
        assert v2.status_code == 200, v2.text[:300]
        answer = v2.json()
        assert (answer["model_name"], answer["model_version"], answer["id"]) == (
            model.name, model.version, "conformance-exact"
        )
        assert v2_labels(answer) == expected


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(
    serving: ServingSandbox, stub_model: StubModels, stub_dataset: StubDataset
) -> None:
    model = stub_model(accuracy=0.9, name="robust")
    endpoint = serving.deploy(model)
    rows = stub_dataset.features[:10]
    expected = model.predict(rows)
    json_header = {"content-type": "application/json"}
    unknown = endpoint.v2_url.replace(f"/models/{model.name}/", f"/models/{model.name}-absent/")
    shape_3 = v2_body([row[:3] for row in rows])
    wrong_type = v2_body(rows)
    wrong_type["inputs"][0]["datatype"] = "FP32"
    # (case, url, keyword arguments of the POST, the status KServe's protocol gives)
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("v1 body is not JSON", endpoint.v1_url, {"data": b'{"instances": [[', "headers": json_header}, 400),
        ("v1 instances is not a list", endpoint.v1_url, {"json": {"instances": 5}}, 400),
        ("v1 row of 2 features", endpoint.v1_url, {"json": {"instances": [[0.5, 1.5]]}}, 400),
        ("v2 body is not JSON", endpoint.v2_url, {"data": b"{not json", "headers": json_header}, 422),
        ("v2 without inputs", endpoint.v2_url, {"json": {"id": "x"}}, 422),
        ("v2 shape [n, 3]", endpoint.v2_url, {"json": shape_3}, 400),
        ("v2 datatype FP32", endpoint.v2_url, {"json": wrong_type}, 400),
        ("v2 unknown model", unknown, {"json": v2_body(rows)}, 404),
    ]
    with requests.Session() as http:  # one keep-alive connection for the bad and the good
        for case, url, kwargs, status in cases:
            bad = http.post(url, timeout=TIMEOUT, **kwargs)
            assert bad.status_code == status, f"{case}: {bad.status_code} {bad.text[:200]}"
            good = http.post(endpoint.v2_url, json=v2_body(rows), timeout=TIMEOUT)
            assert good.status_code == 200, f"after {case}: {good.status_code} {good.text[:200]}"
            assert v2_labels(good.json()) == expected, f"after {case}"
        v1 = http.post(endpoint.v1_url, json={"instances": rows}, timeout=TIMEOUT)
        assert v1.json() == {"predictions": expected}
        ready = http.get(endpoint.ready_url, timeout=TIMEOUT)
        assert (ready.status_code, ready.json()) == (200, {"name": model.name, "ready": True})
