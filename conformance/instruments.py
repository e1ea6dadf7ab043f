"""Handles on the stub instruments a test uses: the stub dataset and stub models in the store.

A stub model's predictions and accuracy are known in advance (stubs/model.py), so a test can
assert what a pipeline, a gate or a server must produce, exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.sandbox import ObjectStoreSandbox, TestScope
from stubs import dataset, model


@functools.lru_cache(maxsize=8)
def _generated(name: str, rows: int, seed: int) -> bytes:
    # Generating is pure but not free (~0.2 s for 1000 rows): once per process is enough.
    return dataset.generate(name, rows, seed)


@dataclass(frozen=True)
class StubDataset:
    """The stub dataset, stored at `uri` in the test's prefix; `records` are its parsed rows."""

    name: str
    rows: int
    seed: int
    uri: str

    @property
    def csv(self) -> bytes:
        return _generated(self.name, self.rows, self.seed)

    @functools.cached_property
    def records(self) -> list[dataset.Row]:
        return dataset.parse(self.csv, self.uri)

    @property
    def features(self) -> list[list[float]]:
        return [list(row.features) for row in self.records]

    @property
    def labels(self) -> list[int]:
        return [row.label for row in self.records]


def store_dataset(
    sandbox: ObjectStoreSandbox, name: str = "conformance", rows: int = 1000, seed: int = 7
) -> StubDataset:
    data = _generated(name, rows, seed)
    sandbox.put(f"data/{name}.csv", data, content_type="text/csv")
    return StubDataset(name, rows, seed, sandbox.uri(f"data/{name}.csv"))


@dataclass(frozen=True)
class StubModelHandle:
    """A stub model artifact stored at `uri`; what it predicts and scores is known exactly."""

    name: str
    version: str
    uri: str
    artifact: dict[str, Any]

    @functools.cached_property
    def model(self) -> model.StubModel:
        return model.StubModel(self.artifact)

    def predict(self, rows: Sequence[Sequence[float]]) -> list[int]:
        return self.model.predict(rows)

    def metrics(self, data: StubDataset) -> dict[str, Any]:
        """Its metrics on `data` in the gate's metrics format (accuracy overall and per group)."""
        scored = model.expected(self.artifact, data.rows)
        metrics: dict[str, Any] = {
            "accuracy": scored["accuracy"],
            "groups": {g: {"accuracy": s["accuracy"]} for g, s in scored["groups"].items()},
        }
        if self.artifact["latency_ms"]:
            metrics["latency_p99_ms"] = self.artifact["latency_ms"]
        return metrics


@dataclass
class StubModels:
    """The `stub_model` fixture: `stub_model(accuracy=0.85, groups={"a": 0.95, "b": 0.7}, name="churn")`.

    Names get the test's token appended (unique per test and worker); versions count v1, v2, ...
    per name unless given.
    """

    sandbox: ObjectStoreSandbox
    scope: TestScope
    _versions: dict[str, int] = field(default_factory=dict)

    def name(self, base: str = "model") -> str:
        """`base` made unique to this test; its registry entries are removed after the test."""
        full = self.scope.name(base)
        self._versions.setdefault(full, 0)
        return full

    @property
    def names(self) -> list[str]:
        """The (unique) model names this test used, in order."""
        return list(self._versions)

    def __call__(
        self,
        accuracy: float,
        groups: dict[str, float] | None = None,
        *,
        name: str = "model",
        version: str | None = None,
        latency_ms: int = 0,
        fail_on_load: bool = False,
        fail_on_predict: bool = False,
    ) -> StubModelHandle:
        full = self.name(name)
        self._versions[full] += 1
        chosen = version or f"v{self._versions[full]}"
        artifact = model.create(
            full, chosen, accuracy, groups, latency_ms, fail_on_load, fail_on_predict
        )
        path = f"models/{full}/{chosen}/model.json"
        self.sandbox.put(path, model.dumps(artifact), content_type="application/json")
        return StubModelHandle(full, chosen, self.sandbox.uri(path), artifact)
