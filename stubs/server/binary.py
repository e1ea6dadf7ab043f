"""Checks a KServe v2 binary tensor request before kserve decodes it; names what is malformed.

A binary request is a JSON part of `Inference-Header-Content-Length` bytes followed by the raw
tensors, each input declaring its byte count in `parameters.binary_data_size`. kserve 0.21 decodes
it without checks: a tensor whose bytes do not fill its shape, a non-numeric header or a JSON part
without `inputs` raise ValueError/KeyError inside kserve, which answers 500 and resets the
keep-alive connection. These checks answer each of them with a 400 and a message instead.
"""

from __future__ import annotations

import json
import math
import re
import struct
from typing import Any

import numpy as np
import pydantic

from stubs.kserve_compat import InferenceRequest, to_np_dtype

HEADER = "Inference-Header-Content-Length"
_DIGITS = re.compile(r"\s*[0-9]+\s*")
_BYTES_LENGTH = struct.Struct("<I")  # each BYTES element: a 4-byte little-endian length, then data


def problem(body: bytes, header: str | None) -> str | None:
    """What is wrong with the binary request `body` whose JSON part is `header` bytes, or None."""
    if header is None:
        return (
            "the body was not sent as JSON (Content-Type: application/json) and has no "
            f"{HEADER} header, so it is not a binary tensor request either: send JSON with "
            f"Content-Type: application/json, or binary tensors with {HEADER} set to the byte "
            "length of the JSON part"
        )
    if not _DIGITS.fullmatch(header):
        return f"{HEADER} must be the byte length of the JSON part, got {header!r}"
    json_length = int(header)
    if not 0 < json_length <= len(body):
        return f"{HEADER} is {json_length} but the body has {len(body)} bytes"
    try:
        request = json.loads(body[:json_length])
    except ValueError as exc:
        return f"the first {json_length} bytes ({HEADER}) are not JSON: {exc}"
    validated = _validated(request)
    if isinstance(validated, str):
        return validated
    offset = json_length
    for raw, tensor in zip(request["inputs"], validated.inputs, strict=True):
        size = (tensor.parameters or {}).get("binary_data_size")
        name = tensor.name
        if "data" in raw:
            continue  # sent in the JSON part: checked with the request, as JSON requests are
        if size is None:
            return f"input {name!r} has neither data nor parameters.binary_data_size"
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return f"input {name!r}: binary_data_size must be a byte count, got {size!r}"
        if offset + size > len(body):
            return (
                f"input {name!r}: binary_data_size is {size} but only {len(body) - offset} "
                "bytes of binary data are left in the body"
            )
        tensor_problem = _tensor_problem(name, tensor.shape, tensor.datatype, body[offset:offset + size])
        if tensor_problem is not None:
            return tensor_problem
        offset += size
    if offset != len(body):
        return (
            f"the body has {len(body) - offset} bytes after the last binary input: the inputs' "
            f"binary_data_size must add up to the body length minus {HEADER}"
        )
    return None


def _validated(request: Any) -> InferenceRequest | str:
    """The JSON part checked against kserve's own schema of JSON requests, or what is wrong."""
    # Binary inputs carry no `data`; an empty one lets them pass the schema of JSON inputs.
    if isinstance(request, dict) and isinstance(request.get("inputs"), list):
        request = {**request, "inputs": [
            {"data": [], **tensor} if isinstance(tensor, dict) else tensor for tensor in request["inputs"]
        ]}
    try:
        return InferenceRequest.model_validate(request)
    except pydantic.ValidationError as exc:
        found = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'request'}: {error['msg']}"
            for error in exc.errors()
        )
        return f"the JSON part is not a v2 inference request: {found}"


def _tensor_problem(name: str, shape: list[int], datatype: str, data: bytes) -> str | None:
    if any(dim < 0 for dim in shape):
        return f"input {name!r}: shape {shape} has a negative dimension"
    dtype = to_np_dtype(datatype)
    if dtype is None:
        return f"input {name!r}: unknown datatype {datatype!r}"
    elements = math.prod(shape)
    if datatype != "BYTES":
        needed = elements * np.dtype(dtype).itemsize
        if len(data) != needed:
            return (
                f"input {name!r}: {len(data)} bytes of binary data do not fill shape {shape} of "
                f"{datatype}, which needs {needed} bytes"
            )
        return None
    count, offset = 0, 0
    while offset < len(data):
        if offset + _BYTES_LENGTH.size > len(data):
            return f"input {name!r}: BYTES element {count} has a truncated 4-byte length"
        (length,) = _BYTES_LENGTH.unpack_from(data, offset)
        offset += _BYTES_LENGTH.size + length
        if offset > len(data):
            return f"input {name!r}: BYTES element {count} declares {length} bytes past the end of its data"
        count += 1
    if count != elements:
        return f"input {name!r}: {count} BYTES elements do not fill shape {shape}, which needs {elements}"
    return None
