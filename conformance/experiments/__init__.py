"""Reference Katib Experiments that tune the stub trainer, and a loader that relocates their data.

Each YAML is a real `kubeflow.org/v1beta1` Experiment whose trials run `python -m stubs.train`
(image `appliance-stubs:dev` on a cluster). They read the stub dataset at DATA_URI and write one
model per trial under OUTPUT_PREFIX/<trial name>/; `manifest()` points both elsewhere, e.g. at a
test's own object-store prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DIRECTORY = Path(__file__).parent
DATA_URI = "s3://mlpipeline/stub-data/train.csv"
OUTPUT_PREFIX = "s3://mlpipeline/tuning"
# The dataset the YAMLs expect at DATA_URI (python -m stubs.dataset --name train --rows 1000 --seed 7).
DATASET = {"name": "train", "rows": 1000, "seed": 7}
NAMES = ("random", "tpe", "grid", "failing", "medianstop")


def path(name: str) -> Path:
    if name not in NAMES:
        raise ValueError(f"no reference experiment {name!r} (have: {', '.join(NAMES)})")
    return DIRECTORY / f"{name}.yaml"


def manifest(
    name: str,
    data_uri: str = DATA_URI,
    output_prefix: str = OUTPUT_PREFIX,
    experiment_name: str | None = None,
) -> dict[str, Any]:
    """The experiment as a dict, reading `data_uri` and writing models under `output_prefix`."""
    text = path(name).read_text(encoding="utf-8")
    text = text.replace(DATA_URI, data_uri).replace(OUTPUT_PREFIX + "/", output_prefix.rstrip("/") + "/")
    data: dict[str, Any] = yaml.safe_load(text)
    if experiment_name is not None:
        data["metadata"]["name"] = experiment_name
    return data
