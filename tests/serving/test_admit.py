"""What the front forwards for what clients send: the content type kserve parses as JSON, or a 415."""

from __future__ import annotations

import gzip
import json

import pytest

from appliance.targets.local.serving.front import Unsupported, admit

V2 = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64",
                             "data": [0.5, 0.2, 0.1, 0.1]}]}).encode()
CURL = [("Host", "127.0.0.1:8080"), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*")]
TRITON = [("User-Agent", "python/gevent-http-client-2.6.1"), ("Host", "127.0.0.1:8080")]


@pytest.mark.parametrize(("sent", "forwarded"), [
    # tritonclient with binary_data=False sends JSON with no Content-Type at all.
    (TRITON, [*TRITON, ("Content-Type", "application/json")]),
    # curl -d labels every body as a form.
    ([*CURL, ("Content-Type", "application/x-www-form-urlencoded")],
     [*CURL, ("Content-Type", "application/json")]),
    # kserve's v1 path compares the header exactly: a charset makes it hand the model raw bytes.
    ([("content-type", "application/json; charset=utf-8")], [("Content-Type", "application/json")]),
    ([("Content-Type", "text/plain")], [("Content-Type", "application/json")]),
    ([("Content-Encoding", "identity")],
     [("Content-Encoding", "identity"), ("Content-Type", "application/json")]),
], ids=["tritonclient", "curl -d", "charset", "text/plain", "identity"])
def test_json_without_a_json_content_type_is_forwarded_as_json(
    sent: list[tuple[str, str]], forwarded: list[tuple[str, str]]
) -> None:
    assert admit(sent, V2) == forwarded


@pytest.mark.parametrize("sent", [
    [("Content-Type", "application/json")],
    [("content-type", "application/cloudevents+json")],
    # The binary tensor header says the body is a binary request (here one with no tensor data).
    [("Inference-Header-Content-Length", str(len(V2)))],
    [("Inference-Header-Content-Length", str(len(V2))), ("Content-Type", "application/octet-stream")],
], ids=["json", "cloudevent", "binary", "binary octet-stream"])
def test_json_typed_and_binary_requests_are_forwarded_unchanged(sent: list[tuple[str, str]]) -> None:
    assert admit(sent, V2) == sent


@pytest.mark.parametrize("body", [b"garbage", b"\xff\xfe{", b'{"inputs": [', b""])
def test_a_body_that_is_not_json_goes_on_as_sent_for_the_model_server_to_answer(body: bytes) -> None:
    assert admit(CURL, body) == CURL


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_a_compressed_body_is_refused_naming_the_fix(coding: str) -> None:
    with pytest.raises(Unsupported) as refused:
        admit([("Content-Encoding", coding)], gzip.compress(V2))
    assert str(refused.value) == (
        f"a request body with Content-Encoding {coding} cannot be served: the model server reads "
        "request bodies uncompressed; send it without compression"
    )
