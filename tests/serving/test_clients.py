"""What KServe v2 clients send, through a deployment's front on a real stack: tritonclient and curl.

curl is played by http.client with exactly the headers curl sends (`curl -d` labels every body
application/x-www-form-urlencoded), all requests of a test on one keep-alive connection.
"""

from __future__ import annotations

import gzip
import http.client
import json
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from appliance.serving.endpoint import Endpoint
from appliance.stack import Stack
from stubs import dataset

NAME = "clients"
CURL = {"User-Agent": "curl/7.88.1", "Accept": "*/*", "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def endpoint(local_stack: Stack, models: dict[str, str]) -> Iterator[Endpoint]:
    engine = local_stack.serving
    served: Endpoint = engine.deploy(NAME, models["right"])
    yield served
    engine.delete(NAME)


def _address(endpoint: Endpoint) -> str:
    return urlsplit(endpoint.url).netloc


def _send(
    conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def _binary(features: list[list[float]], shape: list[int]) -> tuple[bytes, dict[str, str]]:
    """A binary tensor request as tritonclient sends it: JSON part, FP64 tensor, no Content-Type."""
    data = struct.pack(f"<{len(features) * dataset.FEATURES}d", *(x for row in features for x in row))
    tensor = {"name": "input-0", "shape": shape, "datatype": "FP64",
              "parameters": {"binary_data_size": len(data)}}
    part = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()
    return part + data, {"Inference-Header-Content-Length": str(len(part))}


def test_tritonclient_json_and_binary_tensors_get_exact_predictions(endpoint: Endpoint, samples: Any) -> None:
    client = triton.InferenceServerClient(_address(endpoint))
    assert client.is_model_ready(NAME)
    features = np.array(samples.features, dtype=np.float64)
    answered = []
    for binary_data in (False, True):  # False: JSON with no Content-Type, as issue 17 reported
        tensor = triton.InferInput("input-0", list(features.shape), "FP64")
        tensor.set_data_from_numpy(features, binary_data=binary_data)
        for as_binary in (None, False, True):  # the output: client default, JSON, binary asked
            outputs = None if as_binary is None else [
                triton.InferRequestedOutput("output-0", binary_data=as_binary)]
            result = client.infer(NAME, [tensor], outputs=outputs, request_id="t-1")
            response = result.get_response()
            answered.append((result.as_numpy("output-0").tolist(), response["id"], response["model_version"]))
    assert answered == [(samples.right, "t-1", "1")] * 6
    client.close()


def test_curl_style_json_without_a_json_content_type_is_served_on_one_connection(
    endpoint: Endpoint, samples: Any
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(endpoint.url).port, timeout=30)
    v1, v2 = json.dumps(samples.v1()).encode(), json.dumps(samples.v2()).encode()
    no_type = {k: v for k, v in CURL.items() if k != "Content-Type"}
    charset = {**CURL, "Content-Type": "application/json; charset=utf-8"}
    answers = [_send(conn, "/v2/models/clients/infer", v2, CURL)]
    socket_before = conn.sock
    answers += [_send(conn, "/v2/models/clients/infer", v2, no_type),
                _send(conn, "/v2/models/clients/infer", v2, charset)]
    assert [(status, body["outputs"][0]["data"]) for status, body in answers] == [(200, samples.right)] * 3
    v1_answers = [_send(conn, "/v1/models/clients:predict", v1, sent) for sent in (CURL, no_type, charset)]
    assert v1_answers == [(200, {"predictions": samples.right})] * 3
    assert conn.sock is socket_before
    conn.close()


GOOD_ROW = [[0.5, 0.2, 0.1, 0.1]]
SHORT = _binary(GOOD_ROW, [2, dataset.FEATURES])
GZIPPED = gzip.compress(json.dumps({"instances": GOOD_ROW}).encode())
NOT_BINARY = (
    "the body was not sent as JSON (Content-Type: application/json) and has no "
    "Inference-Header-Content-Length header, so it is not a binary tensor request either: send JSON "
    "with Content-Type: application/json, or binary tensors with Inference-Header-Content-Length set "
    "to the byte length of the JSON part"
)
MALFORMED = [
    # (what, path, body, headers, status, the exact error)
    ("a binary tensor short of its shape", "/v2/models/clients/infer", SHORT[0], SHORT[1], 400,
     "input 'input-0': 32 bytes of binary data do not fill shape [2, 4] of FP64, which needs 64 bytes"),
    ("a binary length that is no number", "/v2/models/clients/infer", SHORT[0],
     {"Inference-Header-Content-Length": "12a"}, 400,
     "Inference-Header-Content-Length must be the byte length of the JSON part, got '12a'"),
    ("curl -d with a body that is not JSON", "/v2/models/clients/infer", b"features=1,2,3,4", CURL, 400,
     NOT_BINARY),
    ("v1 curl -d with a body that is not JSON", "/v1/models/clients:predict", b"[[1,2,3,4]", CURL, 400,
     'v1 requests are JSON objects like {"instances": [[f0, f1, f2, f3]]} sent with content-type '
     "application/json"),
    ("a gzip body", "/v1/models/clients:predict", GZIPPED, {"Content-Encoding": "gzip"}, 415,
     "front of clients: a request body with Content-Encoding gzip cannot be served: the model server "
     "reads request bodies uncompressed; send it without compression"),
    ("JSON data short of its shape", "/v2/models/clients/infer",
     json.dumps({"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64",
                             "data": GOOD_ROW[0]}]}).encode(),
     CURL, 400, "input-0 data does not match shape [2, 4]: cannot reshape array of size 4 into shape (2,4)"),
]


def test_malformed_requests_through_the_front_get_4xx_and_keep_the_connection(endpoint: Endpoint) -> None:
    # Before the fix a short binary tensor got 500 (and the front's connection to kserve was reset).
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(endpoint.url).port, timeout=30)
    good = _binary(GOOD_ROW, [1, dataset.FEATURES])
    assert _send(conn, "/v2/models/clients/infer", *good)[0] == 200
    socket_before = conn.sock
    for what, path, body, headers, status, error in MALFORMED:
        assert _send(conn, path, body, headers) == (status, {"error": error}), what
        answer = _send(conn, "/v2/models/clients/infer", *good)
        assert (answer[0], answer[1]["outputs"][0]["data"]) == (200, [1]), what
        assert conn.sock is socket_before, f"connection dropped after {what}"
    conn.close()


def test_tritonclient_tensor_short_of_its_shape_is_400_naming_it(endpoint: Endpoint, samples: Any) -> None:
    client = triton.InferenceServerClient(_address(endpoint))
    features = np.array(samples.features, dtype=np.float64)
    tensor = triton.InferInput("input-0", list(features.shape), "FP64")
    tensor.set_data_from_numpy(features, binary_data=True)
    rows = len(samples.features)
    tensor.set_shape([rows + 1, dataset.FEATURES])  # checked against the data only when data is set
    with pytest.raises(InferenceServerException) as refused:
        client.infer(NAME, [tensor])
    assert (refused.value.status(), refused.value.message()) == (
        "400",
        f"input 'input-0': {rows * 32} bytes of binary data do not fill shape [{rows + 1}, 4] of FP64, "
        f"which needs {(rows + 1) * 32} bytes",
    )
    tensor.set_shape([rows, dataset.FEATURES])
    assert client.infer(NAME, [tensor]).as_numpy("output-0").tolist() == samples.right
    client.close()
