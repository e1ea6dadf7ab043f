"""The checks of KServe v2 binary tensor requests: each malformation named, well-formed ones passed."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from stubs.server import binary

FOUR = struct.pack("<4d", 0.5, 0.2, 0.1, 0.1)  # one row of 4 FP64 features: 32 bytes


def tensor(**fields: Any) -> dict[str, Any]:
    return {"name": "input-0", "shape": [1, 4], "datatype": "FP64", **fields}


def sized(size: Any, **fields: Any) -> dict[str, Any]:
    return tensor(parameters={"binary_data_size": size}, **fields)


def request(head: Any, data: bytes = FOUR, header: str | None = "json") -> tuple[bytes, str | None]:
    """(body, Inference-Header-Content-Length) as tritonclient builds them: JSON part, then tensors."""
    part = head if isinstance(head, bytes) else json.dumps(head).encode()
    return part + data, str(len(part)) if header == "json" else header


WELL_FORMED = [
    ("one FP64 tensor", request({"inputs": [sized(32)]})),
    ("tritonclient's own parameters", request({"id": "r", "inputs": [sized(32)],
                                               "parameters": {"binary_data_output": True}})),
    ("a JSON tensor beside a binary one", request({"inputs": [tensor(data=[1.0] * 4), sized(32, name="b")]})),
    ("BYTES elements framed by their lengths", request(
        {"inputs": [sized(11, datatype="BYTES", shape=[2])]}, b"\x02\x00\x00\x00ab\x01\x00\x00\x00c")),
    ("an empty tensor", request({"inputs": [sized(0, shape=[0, 4])]}, b"")),
]


@pytest.mark.parametrize(("case", "sent"), WELL_FORMED, ids=[case for case, _ in WELL_FORMED])
def test_well_formed_requests_pass(case: str, sent: tuple[bytes, str | None]) -> None:
    assert binary.problem(*sent) is None


H = binary.HEADER
MALFORMED = [
    ("data short of the shape", request({"inputs": [sized(24)]}, FOUR[:24]),
     "input 'input-0': 24 bytes of binary data do not fill shape [1, 4] of FP64, which needs 32 bytes"),
    ("data past the shape", request({"inputs": [sized(40)]}, FOUR + FOUR[:8]),
     "input 'input-0': 40 bytes of binary data do not fill shape [1, 4] of FP64, which needs 32 bytes"),
    ("a size past the body", request({"inputs": [sized(32)]}, FOUR[:20]),
     "input 'input-0': binary_data_size is 32 but only 20 bytes of binary data are left in the body"),
    ("bytes after the last tensor", request({"inputs": [sized(32)]}, FOUR + b"xx"),
     f"the body has 2 bytes after the last binary input: the inputs' binary_data_size must add up to "
     f"the body length minus {H}"),
    ("no header", request({"inputs": [tensor(data=[1.0] * 4)]}, b"", header=None),
     f"the body was not sent as JSON (Content-Type: application/json) and has no {H} header, so it "
     f"is not a binary tensor request either: send JSON with Content-Type: application/json, or "
     f"binary tensors with {H} set to the byte length of the JSON part"),
    ("a header that is no number", request({"inputs": [sized(32)]}, header="abc"),
     f"{H} must be the byte length of the JSON part, got 'abc'"),
    ("a negative header", request({"inputs": [sized(32)]}, header="-5"),
     f"{H} must be the byte length of the JSON part, got '-5'"),
    ("a header past the body", request({"inputs": [sized(32)]}, header="999"),
     f"{H} is 999 but the body has 142 bytes"),
    ("a zero header", request({"inputs": [sized(32)]}, header="0"), f"{H} is 0 but the body has 142 bytes"),
    ("a header cutting the JSON", request({"inputs": [sized(32)]}, header="10"),
     f"the first 10 bytes ({H}) are not JSON: Expecting value: line 1 column 11 (char 10)"),
    ("a JSON part that is a list", request([1]),
     "the JSON part is not a v2 inference request: request: Input should be a valid dictionary or "
     "instance of InferenceRequest"),
    ("no inputs", request({"id": "r"}),
     "the JSON part is not a v2 inference request: inputs: Field required"),
    ("an input without a shape", request({"inputs": [{"name": "input-0", "datatype": "FP64",
                                                       "parameters": {"binary_data_size": 32}}]}),
     "the JSON part is not a v2 inference request: inputs.0.shape: Field required"),
    ("an output without a name", request({"inputs": [sized(32)], "outputs": [{"nom": "x"}]}),
     "the JSON part is not a v2 inference request: outputs.0.name: Field required"),
    ("a numeric id", request({"id": 5, "inputs": [sized(32)]}),
     "the JSON part is not a v2 inference request: id: Input should be a valid string"),
    ("neither data nor a size", request({"inputs": [tensor()]}),
     "input 'input-0' has neither data nor parameters.binary_data_size"),
    ("a size as a string", request({"inputs": [sized("32")]}),
     "input 'input-0': binary_data_size must be a byte count, got '32'"),
    ("a negative size", request({"inputs": [sized(-1)]}),
     "input 'input-0': binary_data_size must be a byte count, got -1"),
    ("a boolean size", request({"inputs": [sized(True)]}),
     "input 'input-0': binary_data_size must be a byte count, got True"),
    ("an unknown datatype", request({"inputs": [sized(32, datatype="FP99")]}),
     "input 'input-0': unknown datatype 'FP99'"),
    ("a negative dimension", request({"inputs": [sized(32, shape=[-1, 4])]}),
     "input 'input-0': shape [-1, 4] has a negative dimension"),
    ("a BYTES length past its data", request({"inputs": [sized(6, datatype="BYTES", shape=[1])]},
                                             b"\x09\x00\x00\x00ab"),
     "input 'input-0': BYTES element 0 declares 9 bytes past the end of its data"),
    ("a truncated BYTES length", request({"inputs": [sized(6, datatype="BYTES", shape=[2])]},
                                         b"\x00\x00\x00\x00\x01\x00"),
     "input 'input-0': BYTES element 1 has a truncated 4-byte length"),
    ("too few BYTES elements", request({"inputs": [sized(6, datatype="BYTES", shape=[2])]},
                                       b"\x02\x00\x00\x00ab"),
     "input 'input-0': 1 BYTES elements do not fill shape [2], which needs 2"),
]


@pytest.mark.parametrize(("case", "sent", "message"), MALFORMED, ids=[case for case, _, _ in MALFORMED])
def test_each_malformation_is_named(case: str, sent: tuple[bytes, str | None], message: str) -> None:
    assert binary.problem(*sent) == message
