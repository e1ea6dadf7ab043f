"""The kserve side of the stub server: a kserve.Model for stub artifacts and a loopback ModelServer.

Contract:
- v2 `POST /v2/models/{name}/infer`: one input `input-0`, shape [n, FEATURES], FP64, the feature
  columns in order -> one output `output-0`, shape [n], INT64, the predicted labels. The response
  `model_version` is the artifact's version; its `id` echoes the request id or is a fresh uuid.
- v1 `POST /v1/models/{name}:predict`: `{"instances": [[f0, ..., f3], ...]}` ->
  `{"predictions": [0, 1, ...]}`.
- Bad requests raise kserve.errors.InvalidInput (400, `{"error": ...}`), never a generic
  exception: those make uvicorn drop the keep-alive connection after the 500. That holds for
  binary tensor requests too: they are checked (stubs/server/binary.py) before kserve decodes them.
- fail_on_predict -> InferenceError (500, connection kept); latency_ms -> an async sleep per
  request; fail_on_load -> `python -m stubs.server` exits 1 with the load error on stderr.
- Binds 127.0.0.1 unless --host says otherwise (kserve itself hard-codes 0.0.0.0).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any

from stubs import dataset
from stubs import model as models
from stubs.errors import StubError
from stubs.kserve_compat import (
    DataPlane,
    InferOutput,
    InferRequest,
    InferResponse,
    ModelServer,
    errors,
    kserve,
)
from stubs.server import binary

LOOPBACK = "127.0.0.1"
INPUT_NAME = "input-0"
OUTPUT_NAME = "output-0"
INPUT_DATATYPE = "FP64"
OUTPUT_DATATYPE = "INT64"
# The latency knob's sleep, looked up per request so tests can record the requested delays.
_sleep = asyncio.sleep


def _rows_from_v1(payload: Any) -> list[list[float]]:
    if not isinstance(payload, dict):
        raise errors.InvalidInput(
            'v1 requests are JSON objects like {"instances": [[f0, f1, f2, f3]]} '
            "sent with content-type application/json"
        )
    instances = payload.get("instances")
    if not isinstance(instances, list):
        raise errors.InvalidInput('Expected "instances" to be a list of rows')
    for index, row in enumerate(instances):
        if not isinstance(row, list) or len(row) != dataset.FEATURES:
            raise errors.InvalidInput(
                f"instances[{index}] must be a list of {dataset.FEATURES} numbers (f0..f3)"
            )
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise errors.InvalidInput(f"instances[{index}] holds a non-number: {value!r}")
            if not math.isfinite(value):
                raise errors.InvalidInput(f"instances[{index}] holds a non-finite number")
    return instances


def _rows_from_v2(request: InferRequest) -> list[list[float]]:
    if len(request.inputs) != 1 or request.inputs[0].name != INPUT_NAME:
        names = [tensor.name for tensor in request.inputs]
        raise errors.InvalidInput(f"expected exactly one input named {INPUT_NAME!r}, got {names}")
    tensor = request.inputs[0]
    if tensor.datatype != INPUT_DATATYPE:
        raise errors.InvalidInput(
            f"{INPUT_NAME} must have datatype {INPUT_DATATYPE}, got {tensor.datatype!r}"
        )
    shape = list(tensor.shape)
    if len(shape) != 2 or shape[1] != dataset.FEATURES or shape[0] < 0:
        raise errors.InvalidInput(f"{INPUT_NAME} must have shape [n, {dataset.FEATURES}], got {shape}")
    try:
        array = tensor.as_numpy()
    except errors.InvalidInput:
        raise
    except (ValueError, TypeError) as exc:  # e.g. data that does not fill the declared shape
        raise errors.InvalidInput(f"{INPUT_NAME} data does not match shape {shape}: {exc}") from None
    if list(array.shape) != shape:
        raise errors.InvalidInput(f"{INPUT_NAME} data does not match shape {shape}")
    rows: list[list[float]] = array.tolist()
    if not all(math.isfinite(x) for row in rows for x in row):
        raise errors.InvalidInput(f"{INPUT_NAME} holds a non-finite number")
    return rows


class StubModel(kserve.Model):
    """Serves one stub artifact; `load()` raises the artifact's declared load failure."""

    def __init__(self, name: str | None, model_uri: str, loaded: models.StubModel | None = None) -> None:
        # The served name defaults to the artifact's name, known only after load().
        super().__init__(name or (loaded.name if loaded else "pending"))
        self.model_uri = model_uri
        self._requested_name = name
        self._loaded = loaded
        self.stub: models.StubModel | None = None

    def load(self) -> bool:
        # StubError (fail_on_load, unreadable artifact) propagates: the caller reports it.
        self.stub = self._loaded or models.load(self.model_uri)
        if self._requested_name is None:
            self.name = self.stub.name
        self.ready = True
        return self.ready

    def get_input_types(self) -> list[dict[str, Any]]:
        return [{"name": INPUT_NAME, "datatype": INPUT_DATATYPE, "shape": [-1, dataset.FEATURES]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [{"name": OUTPUT_NAME, "datatype": OUTPUT_DATATYPE, "shape": [-1]}]

    def _predict(self, rows: list[list[float]]) -> list[int]:
        if self.stub is None:
            raise errors.ModelNotReady(self.name)
        try:
            return self.stub.predict(rows)
        except models.StubFault as exc:
            raise errors.InferenceError(exc.message) from None
        except StubError as exc:
            raise errors.InvalidInput(exc.message) from None

    async def _delay(self) -> None:
        if self.stub is not None and self.stub.latency_ms:
            await _sleep(self.stub.latency_ms / 1000)

    async def predict(
        self,
        payload: dict[str, Any] | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | InferResponse:
        if not isinstance(payload, InferRequest):
            rows = _rows_from_v1(payload)
            await self._delay()
            return {"predictions": self._predict(rows)}
        rows = _rows_from_v2(payload)
        await self._delay()
        labels = self._predict(rows)
        output = InferOutput(OUTPUT_NAME, [len(labels)], OUTPUT_DATATYPE, data=labels)
        return InferResponse(
            # The response id must be a string: echo the caller's id, else make one up.
            response_id=payload.id or str(uuid.uuid4()),
            model_name=self.name,
            model_version=self.stub.version if self.stub else None,
            infer_outputs=[output],
        )


class CheckedDataPlane(DataPlane):
    """kserve's DataPlane, refusing a malformed binary tensor request with 400 before decoding it."""

    def decode_inference_request(self, body: Any, headers: dict[str, str], model_name: str) -> InferRequest:
        if isinstance(body, bytes):  # JSON requests arrive parsed; bytes are the binary extension
            found = binary.problem(body, headers.get(binary.HEADER.lower()))
            if found is not None:
                raise errors.InvalidInput(found)
        return super().decode_inference_request(body, headers, model_name)


class LoopbackModelServer(ModelServer):
    """kserve.ModelServer whose REST server binds `host` (127.0.0.1) instead of 0.0.0.0."""

    def __init__(self, http_port: int, host: str = LOOPBACK) -> None:
        # One worker, no gRPC: kserve's multi-process path builds its own sockets on 0.0.0.0.
        super().__init__(http_port=http_port, enable_grpc=False, workers=1)
        self.host = host
        # start() hands self.dataplane to the REST server, so replacing it here is enough.
        self.dataplane = CheckedDataPlane(model_registry=self.registered_models)

    def setup_event_loop(self) -> None:
        # ModelServer.start() builds its uvicorn config (host hard-coded to 0.0.0.0) and then
        # calls this hook before the server binds: the one place to change the host.
        if self._rest_server is None:
            raise RuntimeError("kserve changed: no REST server to bind before start")
        self._rest_server.config.host = self.host
        super().setup_event_loop()


def serve(served: list[Any], port: int, host: str = LOOPBACK) -> None:
    """Run kserve's REST server for loaded models until SIGTERM/SIGINT."""
    LoopbackModelServer(http_port=port, host=host).start(served)
