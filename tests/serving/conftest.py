"""Serving fixtures: stub model artifacts in the stack's object store, dataset rows, a load generator."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from appliance.stack import Stack
from stubs import dataset
from stubs import model as stub_model


@dataclass(frozen=True)
class Samples:
    """Stub-dataset rows and the answers of the two test models.

    Accuracy 1.0 answers every label and accuracy 0.0 every opposite label: two models whose
    answers differ on every row, so each response says which model produced it.
    """

    features: list[list[float]]
    right: list[int]
    wrong: list[int]

    def v1(self) -> dict[str, Any]:
        return {"instances": self.features}

    def v2(self) -> dict[str, Any]:
        return {"inputs": [{"name": "input-0", "shape": [len(self.features), dataset.FEATURES],
                            "datatype": "FP64", "data": [x for row in self.features for x in row]}]}


@pytest.fixture(scope="session")
def samples() -> Samples:
    rows = dataset.rows_of("serving", 12, 7)
    labels = [row.label for row in rows]
    return Samples([list(row.features) for row in rows], labels, [1 - label for label in labels])


def upload(stack: Stack, key: str, artifact: dict[str, Any]) -> str:
    data = stub_model.dumps(artifact)
    stack.object_store.client().put_object(stack.object_store.bucket, key, io.BytesIO(data), len(data),
                                           content_type="application/json")
    return f"s3://{stack.object_store.bucket}/{key}"


@pytest.fixture(scope="session")
def uploader(local_stack: Stack) -> Callable[[str, dict[str, Any]], str]:
    """Upload an artifact to the stack's bucket under a key; returns its s3:// URI."""
    return lambda key, artifact: upload(local_stack, key, artifact)


@pytest.fixture(scope="session")
def models(local_stack: Stack) -> dict[str, str]:
    """URIs of stub artifacts: right (v1, accuracy 1), wrong (v2, accuracy 0), slow, broken."""
    return {
        "right": upload(local_stack, "serving/right.json", stub_model.create("clf", "1", 1.0)),
        "wrong": upload(local_stack, "serving/wrong.json", stub_model.create("clf", "2", 0.0)),
        # 20 ms per request keeps requests in flight while a rollout switches the front.
        "slow-right": upload(local_stack, "serving/slow-right.json",
                             stub_model.create("clf", "3", 1.0, latency_ms=20)),
        "broken": upload(local_stack, "serving/broken.json",
                         stub_model.create("clf", "4", 1.0, fail_on_load=True)),
    }


@dataclass
class Load:
    """`clients` threads, each on its own keep-alive session, POSTing `body` until stopped
    (or, with `each`, until it has sent `each` requests)."""

    url: str
    body: dict[str, Any]
    clients: int
    each: int | None = None
    answers: list[list[Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _client(self, index: int) -> None:
        seen = self.answers[index]
        sent = 0
        with requests.Session() as session:
            while not self._stop.is_set() and (self.each is None or sent < self.each):
                sent += 1
                try:
                    response = session.post(self.url, json=self.body, timeout=30)
                except requests.RequestException as exc:
                    self.errors.append(f"client {index}: {type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.errors.append(f"client {index}: HTTP {response.status_code} {response.text[:200]}")
                    continue
                seen.append(response.json())

    def start(self) -> Load:
        self.answers = [[] for _ in range(self.clients)]
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def wait_each(self, count: int, timeout: float = 60) -> None:
        """Until every client has at least `count` answers (or errors stop it from getting them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(len(a) < count for a in self.answers):
            time.sleep(0.02)

    def join(self, timeout: float) -> bool:
        """Wait for clients started with `each` to send all their requests; False on timeout."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    @property
    def total(self) -> int:
        return sum(len(a) for a in self.answers)


@pytest.fixture
def load() -> Callable[..., Load]:
    return Load
