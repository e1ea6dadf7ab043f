"""Same dataset bytes and same predictions in separate processes with different hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys

PROGRAM = """
import hashlib
from stubs import dataset, model
data = dataset.generate("demo", 2000, 11)
rows = dataset.parse(data)
stub = model.from_artifact(model.create("m", "1", None, {"a": 0.8731, "b": 0.61}))
predictions = stub.predict([r.features for r in rows])
print(hashlib.sha256(data).hexdigest(), hashlib.sha256(bytes(predictions)).hexdigest())
"""


def run(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_two_processes_agree_on_data_and_predictions() -> None:
    first, second = run("1"), run("4242")
    assert first == second
    assert len(first.split()) == 2
