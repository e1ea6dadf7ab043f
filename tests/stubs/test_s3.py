"""Stubs against the real local object store: signed s3:// reads and writes, served from S3."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from appliance.stack import Stack
from stubs import dataset, model, uri
from stubs.errors import BadStubInput


@pytest.fixture
def s3_env(local_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = local_stack.object_store.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_dataset_and_model_round_trip_through_s3(s3_env: dict[str, str]) -> None:
    data_uri = "s3://mlpipeline/stubs-test/data.csv"
    assert dataset.write(data_uri, "demo", 300, 9) == data_uri
    assert uri.read_bytes(data_uri) == dataset.generate("demo", 300, 9)
    rows = dataset.read(data_uri)
    model.save(model.create("s3model", "1", 0.8), "s3://mlpipeline/stubs-test/model.json")
    result = model.evaluate(model.load("s3://mlpipeline/stubs-test/model.json"), rows)
    assert result["accuracy"] == 0.8 and result["rows"] == 300


def test_wrong_secret_is_refused_with_a_clear_error(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(BadStubInput, match=r"s3://mlpipeline/x.csv: cannot read \("):
        dataset.read("s3://mlpipeline/x.csv")


def test_missing_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(BadStubInput, match="AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"):
        dataset.read("s3://mlpipeline/x.csv")
    with pytest.raises(BadStubInput, match="needs a bucket and a key"):
        dataset.read("s3://mlpipeline")


def test_server_loads_from_s3_with_credentials_from_the_environment(
    s3_env: dict[str, str], server_factory: Callable[..., Any], http_json: Callable[..., Any]
) -> None:
    model.save(model.create("froms3", "5", 1.0), "s3://mlpipeline/stubs-test/served.json")
    served = server_factory("s3://mlpipeline/stubs-test/served.json", env={**os.environ, **s3_env})
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in " ".join(served.process.args)
    status, body = http_json(
        served.connection(),
        "POST",
        "/v1/models/froms3:predict",
        {"instances": [[0.5, 0.1, 0.2, 0.2], [-0.5, 1.1, 0.9, 0.9]]},
    )
    assert (status, body) == (200, {"predictions": [1, 0]})
