"""The stub model server over real HTTP: v1/v2 round trips, errors on a kept-alive connection."""

from __future__ import annotations

import asyncio
import errno
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.runtime.process import free_port
from stubs import dataset, model
from stubs.server import __main__ as server_cli

Request = Callable[..., tuple[int, Any]]


def v2_body(rows: list[list[float]], **extra: Any) -> dict[str, Any]:
    flat = [x for row in rows for x in row]
    tensor = {"name": "input-0", "shape": [len(rows), dataset.FEATURES], "datatype": "FP64"}
    return {"inputs": [{**tensor, "data": flat}], **extra}


def test_v2_round_trip_is_exact(stub_service: Any, http_json: Request) -> None:
    conn = stub_service.served.connection()
    features = [list(r.features) for r in stub_service.rows]
    status, body = http_json(conn, "POST", "/v2/models/churn/infer", v2_body(features, id="r-1"))
    assert status == 200
    assert body == {
        "model_name": "churn",
        "model_version": "7",
        "id": "r-1",
        "parameters": None,
        "outputs": [
            {
                "name": "output-0",
                "shape": [200],
                "datatype": "INT64",
                "parameters": None,
                "data": stub_service.expected,
            }
        ],
    }
    # The served predictions meet the declared accuracies exactly: a 120 rows, b 80 rows.
    hits: dict[str, int] = {"a": 0, "b": 0}
    for row, label in zip(stub_service.rows, body["outputs"][0]["data"], strict=True):
        hits[row.group] += int(label == row.label)
    assert hits == {"a": 108, "b": 60}


def test_v2_without_id_gets_a_string_id(stub_service: Any, http_json: Request) -> None:
    conn = stub_service.served.connection()
    status, body = http_json(conn, "POST", "/v2/models/churn/infer", v2_body([[0.5, 0.1, 0.2, 0.2]]))
    assert status == 200 and isinstance(body["id"], str) and len(body["id"]) == 36
    assert body["outputs"][0]["data"] == [1]


def test_v1_round_trip_is_exact(stub_service: Any, http_json: Request) -> None:
    conn = stub_service.served.connection()
    instances = [list(r.features) for r in stub_service.rows]
    status, body = http_json(conn, "POST", "/v1/models/churn:predict", {"instances": instances})
    assert (status, body) == (200, {"predictions": stub_service.expected})


def test_metadata_and_readiness(stub_service: Any, http_json: Request) -> None:
    conn = stub_service.served.connection()
    assert http_json(conn, "GET", "/v2/models/churn") == (
        200,
        {
            "name": "churn",
            "versions": None,
            "platform": "",
            "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
            "outputs": [{"name": "output-0", "datatype": "INT64", "shape": [-1]}],
        },
    )
    assert http_json(conn, "GET", "/v2/models/churn/ready") == (200, {"name": "churn", "ready": True})
    assert http_json(conn, "GET", "/v2/health/ready") == (200, {"ready": True})
    assert http_json(conn, "GET", "/v1/models/churn") == (200, {"name": "churn", "ready": True})


GOOD_ROW = [[0.5, 0.1, 0.2, 0.2]]
MALFORMED = [
    # (method, path, json body or raw bytes, expected status, fragment of the error)
    ("POST", "/v1/models/churn:predict", b"{not json", 400, "Unrecognized request format"),
    ("POST", "/v2/models/churn/infer", b"{not json", 422, "json_invalid"),
    ("POST", "/v1/models/churn:predict", {"instances": [[1.0, 2.0]]}, 400, "list of 4 numbers"),
    ("POST", "/v1/models/churn:predict", {"instances": 5}, 400, "instances"),
    ("POST", "/v1/models/churn:predict", {"rows": GOOD_ROW}, 400, "instances"),
    ("POST", "/v1/models/churn:predict", {"instances": [[1, 2, 3, "x"]]}, 400, "non-number"),
    (
        "POST",
        "/v2/models/churn/infer",
        {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1.0] * 3}]},
        400,
        "shape [n, 4]",
    ),
    (
        "POST",
        "/v2/models/churn/infer",
        {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [1.0] * 4}]},
        400,
        "does not match shape",
    ),
    (
        "POST",
        "/v2/models/churn/infer",
        {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [1.0] * 4}]},
        400,
        "datatype FP64",
    ),
    (
        "POST",
        "/v2/models/churn/infer",
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1.0] * 4}]},
        400,
        "input-0",
    ),
    ("POST", "/v2/models/churn/infer", {"inputs": "nope"}, 422, "list_type"),
    ("POST", "/v2/models/nope/infer", v2_body(GOOD_ROW), 404, "nope does not exist"),
    ("POST", "/v1/models/nope:predict", {"instances": GOOD_ROW}, 404, "nope does not exist"),
    ("GET", "/v2/models/nope/ready", None, 404, "nope does not exist"),
]


def test_malformed_requests_get_4xx_and_keep_the_connection(stub_service: Any, http_json: Request) -> None:
    conn = stub_service.served.connection()
    assert http_json(conn, "POST", "/v1/models/churn:predict", {"instances": GOOD_ROW})[0] == 200
    socket_before = conn.sock
    for method, path, body, status, fragment in MALFORMED:
        raw = body if isinstance(body, bytes) else None
        got, payload = http_json(conn, method, path, None if raw else body, raw)
        assert (got, path) == (status, path), payload
        assert fragment in str(payload), payload
        # The next request rides the same TCP connection and succeeds.
        good = http_json(conn, "POST", "/v2/models/churn/infer", v2_body(GOOD_ROW))
        assert good[0] == 200 and good[1]["outputs"][0]["data"] == [1]
        assert conn.sock is socket_before, f"connection dropped after {path} {body!r}"


def _binary(rows: list[list[float]], shape: list[int] | None = None) -> tuple[bytes, dict[str, str]]:
    """A v2 binary tensor request exactly as tritonclient sends it: the JSON part, then the FP64
    tensor, Inference-Header-Content-Length, no Content-Type."""
    data = struct.pack(f"<{len(rows) * dataset.FEATURES}d", *(x for row in rows for x in row))
    tensor = {"name": "input-0", "shape": shape or [len(rows), dataset.FEATURES], "datatype": "FP64",
              "parameters": {"binary_data_size": len(data)}}
    part = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()
    return part + data, {"Inference-Header-Content-Length": str(len(part))}


def _raw(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    conn.request("POST", "/v2/models/churn/infer", body=body, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


SHORT_BODY, SHORT_HEADERS = _binary(GOOD_ROW, shape=[2, dataset.FEATURES])
MALFORMED_BINARY = [
    # (what, body, headers, the exact error)
    ("a tensor short of its shape", SHORT_BODY, SHORT_HEADERS,
     "input 'input-0': 32 bytes of binary data do not fill shape [2, 4] of FP64, which needs 64 bytes"),
    ("a tensor past its shape", *_binary(GOOD_ROW * 3, shape=[2, dataset.FEATURES]),
     "input 'input-0': 96 bytes of binary data do not fill shape [2, 4] of FP64, which needs 64 bytes"),
    ("a header that is no number", _binary(GOOD_ROW)[0], {"Inference-Header-Content-Length": "x"},
     "Inference-Header-Content-Length must be the byte length of the JSON part, got 'x'"),
    ("a header past the body", _binary(GOOD_ROW)[0], {"Inference-Header-Content-Length": "4096"},
     "Inference-Header-Content-Length is 4096 but the body has 186 bytes"),
    ("bytes after the tensor", _binary(GOOD_ROW)[0] + b"!", _binary(GOOD_ROW)[1],
     "the body has 1 bytes after the last binary input: the inputs' binary_data_size must add up to "
     "the body length minus Inference-Header-Content-Length"),
    ("JSON without a content type (kserve reads it as binary)", json.dumps(v2_body(GOOD_ROW)).encode(), {},
     "the body was not sent as JSON (Content-Type: application/json) and has no "
     "Inference-Header-Content-Length header, so it is not a binary tensor request either: send JSON "
     "with Content-Type: application/json, or binary tensors with Inference-Header-Content-Length set "
     "to the byte length of the JSON part"),
]


def test_malformed_binary_requests_get_400_and_keep_the_connection(stub_service: Any) -> None:
    # Before these were checked, a short tensor got 500 from kserve and the connection was reset.
    conn = stub_service.served.connection()
    good = _binary(GOOD_ROW)
    assert _raw(conn, *good)[1]["outputs"][0]["data"] == [1]
    socket_before = conn.sock
    for what, body, headers, error in MALFORMED_BINARY:
        assert _raw(conn, body, headers) == (400, {"error": error}), what
        status, answer = _raw(conn, *good)
        assert (status, answer["outputs"][0]["data"]) == (200, [1]), what
        assert conn.sock is socket_before, f"connection dropped after {what}"


def test_tritonclient_binary_tensors_round_trip_and_a_short_one_is_400(stub_service: Any) -> None:
    import numpy as np
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(f"127.0.0.1:{stub_service.served.port}")
    features = np.array([list(r.features) for r in stub_service.rows], dtype=np.float64)
    tensor = triton.InferInput("input-0", list(features.shape), "FP64")
    tensor.set_data_from_numpy(features, binary_data=True)
    for outputs in (None, [triton.InferRequestedOutput("output-0", binary_data=False)]):
        result = client.infer("churn", [tensor], outputs=outputs, request_id="t-1")
        assert result.as_numpy("output-0").tolist() == stub_service.expected
        assert (result.get_response()["id"], result.get_response()["model_version"]) == ("t-1", "7")
    # The client checks data against the shape only when the data is set: a shape declared after
    # that sends 200 rows of data for 201 declared.
    tensor.set_shape([len(stub_service.rows) + 1, dataset.FEATURES])
    with pytest.raises(InferenceServerException) as refused:
        client.infer("churn", [tensor])
    assert refused.value.status() == "400"
    assert refused.value.message() == (
        "input 'input-0': 6400 bytes of binary data do not fill shape [201, 4] of FP64, "
        "which needs 6432 bytes"
    )
    # JSON tensors (binary_data=False) come without a Content-Type: straight to kserve 0.21, as on a
    # cluster's kserve runtime, that is refused; the deployment's front accepts it (tests/serving).
    tensor = triton.InferInput("input-0", list(features.shape), "FP64")
    tensor.set_data_from_numpy(features, binary_data=False)
    with pytest.raises(InferenceServerException) as refused:
        client.infer("churn", [tensor])
    assert refused.value.status() == "400"
    assert "has no Inference-Header-Content-Length header" in str(refused.value.message())
    client.close()


def test_binds_loopback_only(stub_service: Any) -> None:
    table = Path("/proc/net/tcp")
    if not table.exists():
        pytest.skip("needs Linux /proc/net/tcp to read the listening address")
    port_hex = f"{stub_service.served.port:04X}"
    listening = [
        line.split()[1]
        for line in table.read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{port_hex}") and line.split()[3] == "0A"
    ]
    assert listening == [f"0100007F:{port_hex}"]


def test_fail_on_predict_is_500_and_keeps_the_connection(
    tmp_path: Path, server_factory: Callable[..., Any], http_json: Request
) -> None:
    model.save(model.create("boom", "1", 0.9, fail_on_predict=True), str(tmp_path / "m.json"))
    served = server_factory(str(tmp_path / "m.json"))
    conn = served.connection()
    for _ in range(2):
        status, body = http_json(conn, "POST", "/v2/models/boom/infer", v2_body(GOOD_ROW))
        assert (status, body) == (500, {"error": "model boom version 1 declares fail_on_predict"})
    status, body = http_json(conn, "POST", "/v1/models/boom:predict", {"instances": GOOD_ROW})
    assert status == 500
    assert http_json(conn, "GET", "/v2/models/boom/ready") == (200, {"name": "boom", "ready": True})
    conn.close()
    # SIGTERM stops it cleanly (exit 0) and the port stops answering.
    assert served.stop() == 0
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", served.port, timeout=5).request("GET", "/")


def test_name_override_serves_under_the_given_name(
    tmp_path: Path, server_factory: Callable[..., Any], http_json: Request
) -> None:
    model.save(model.create("plain", "2", 1.0), str(tmp_path / "m.json"))
    served = server_factory(str(tmp_path / "m.json"), name="renamed")
    conn = served.connection()
    status, body = http_json(conn, "POST", "/v1/models/renamed:predict", {"instances": GOOD_ROW})
    assert (status, body) == (200, {"predictions": [1]})
    assert http_json(conn, "GET", "/v2/models/plain/ready")[0] == 404


@pytest.mark.parametrize("latency_ms", [0, 300])
def test_latency_knob_sleeps_the_declared_time_before_each_answer(
    monkeypatch: pytest.MonkeyPatch, latency_ms: int
) -> None:
    # In process, with the server's sleep and the model's predict recorded: the knob's exact
    # contract (that delay, once per request, before the answer) without timing anything.
    from kserve.protocol.infer_type import InferInput

    from stubs.server import kserve_model

    events: list[object] = []

    async def record_sleep(seconds: float) -> None:
        events.append(seconds)

    real_predict = model.StubModel.predict

    def record_predict(self: model.StubModel, rows: Any) -> list[int]:
        events.append("predict")
        return real_predict(self, rows)

    monkeypatch.setattr(kserve_model, "_sleep", record_sleep)
    monkeypatch.setattr(model.StubModel, "predict", record_predict)
    loaded = model.from_artifact(model.create("slow", "2", 1.0, latency_ms=latency_ms))
    served = kserve_model.StubModel(None, "m.json", loaded)
    served.load()
    assert asyncio.run(served.predict({"instances": GOOD_ROW})) == {"predictions": [1]}
    tensor = InferInput(name="input-0", shape=[1, 4], datatype="FP64", data=GOOD_ROW[0])
    v2 = asyncio.run(served.predict(kserve_model.InferRequest("slow", [tensor], request_id="r")))
    assert v2.outputs[0].data == [1]
    per_request = ([latency_ms / 1000] if latency_ms else []) + ["predict"]
    assert events == per_request * 2


def test_fail_on_load_exits_nonzero_with_the_error(tmp_path: Path) -> None:
    model.save(model.create("broken", "4", 0.9, fail_on_load=True), str(tmp_path / "m.json"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stubs.server",
            "--model-uri",
            str(tmp_path / "m.json"),
            "--port",
            str(free_port()),
            "--run-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: model broken version 4 declares fail_on_load: refusing to load"
    )


def test_cli_help_is_ours_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    helped = subprocess.run([sys.executable, "-m", "stubs.server", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--model-uri" in helped.stdout
    port = str(free_port())  # a busy port would be reported first
    missing = subprocess.run(
        [sys.executable, "-m", "stubs.server", "--model-uri", str(tmp_path / "none.json"), "--port", port],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "none.json: cannot read" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = subprocess.run(
            [sys.executable, "-m", "stubs.server", "--model-uri", "m.json", "--port", port],
            capture_output=True,
            text=True,
        )
    assert (busy.returncode, busy.stderr) == (
        2,
        f"error: port {port} on 127.0.0.1 is in use: pick another --port\n",
    )


@pytest.mark.parametrize(
    ("code", "port", "message"),
    [
        (errno.EADDRINUSE, 8080, "port 8080 on 127.0.0.1 is in use: pick another --port"),
        (
            errno.EACCES,
            80,
            "port 80 on 127.0.0.1: permission denied (ports below 1024 need root or "
            "CAP_NET_BIND_SERVICE): pick a --port from 1024 up",
        ),
        (errno.EACCES, 8080, "port 8080 on 127.0.0.1: permission denied: pick another --port"),
        (
            errno.EADDRNOTAVAIL,
            8080,
            "cannot listen on 127.0.0.1: not an address of this machine: use --host 127.0.0.1",
        ),
        (
            errno.EINVAL,
            8080,
            f"cannot listen on 127.0.0.1 port 8080: {os.strerror(errno.EINVAL)}: check --host and --port",
        ),
    ],
)
def test_each_bind_error_gets_its_own_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int, port: int, message: str
) -> None:
    # The bind is replaced so every errno is reachable whoever runs the tests (root binds port 80).
    seen: list[tuple[str, int]] = []

    def refuse(host: str, bound: int) -> None:
        seen.append((host, bound))
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(server_cli, "_probe", refuse)
    assert server_cli.main(["--model-uri", "never-read.json", "--port", str(port)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert seen == [("127.0.0.1", port)]


def test_a_privileged_port_reports_what_the_kernel_says(tmp_path: Path) -> None:
    # Whether port 1 is bindable depends on who runs the tests; the message must match the truth.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", 1))
            refused = None
        except OSError as exc:
            refused = exc.errno
    missing = tmp_path / "none.json"
    done = subprocess.run(
        [sys.executable, "-m", "stubs.server", "--model-uri", str(missing), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    if refused is None:  # root, or a lowered ip_unprivileged_port_start: on to loading the model
        assert f"{missing}: cannot read" in done.stderr
    elif refused == errno.EACCES:
        assert done.stderr == (
            "error: port 1 on 127.0.0.1: permission denied (ports below 1024 need root or "
            "CAP_NET_BIND_SERVICE): pick a --port from 1024 up\n"
        )
    else:  # the only other errno a bind of 127.0.0.1 meets
        assert refused == errno.EADDRINUSE
        assert done.stderr == "error: port 1 on 127.0.0.1 is in use: pick another --port\n"
