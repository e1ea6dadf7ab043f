"""Reference pipeline: train (stub trainer) -> evaluate on the stub dataset -> gate -> promote.

Writes s3://mlpipeline/train-gate-promote/<run-id>/{data/eval.csv, model/model.json,
metrics/metrics.json}; the gate records its decision in the registry, and the model becomes
the champion only when the gate says so (and the champion has not moved meanwhile).
"""

from pathlib import Path

from kfp import dsl

from conformance.pipelines.components import (
    evaluate_model,
    gate_model,
    make_dataset,
    promote_model,
    train_model,
)

NAME = "train-gate-promote"
POLICY = (Path(__file__).parent / "policy.yaml").read_text(encoding="utf-8")


@dsl.pipeline(name=NAME, description="Train a stub model, evaluate it, gate it, promote it.")
def train_gate_promote(
    model: str = "stub-classifier",
    lr: float = 0.01,
    depth: int = 6,
    rows: int = 200,
    seed: int = 7,
    policy: str = POLICY,
) -> str:
    run_id = dsl.PIPELINE_JOB_ID_PLACEHOLDER
    data = make_dataset(pipeline=NAME, run_id=run_id, name="eval", rows=rows, seed=seed)
    trained = train_model(pipeline=NAME, run_id=run_id, data_uri=data.output, model=model,
                          lr=lr, depth=depth)
    evaluated = evaluate_model(pipeline=NAME, run_id=run_id,
                               model_uri=trained.outputs["model_uri"], data_uri=data.output)
    gate = gate_model(model=model, version=trained.outputs["version"],
                      model_uri=trained.outputs["model_uri"],
                      metrics_json=evaluated.outputs["Output"], policy_yaml=policy)
    with dsl.If(gate.outputs["promote"] == True):  # noqa: E712 (a KFP condition, not Python)
        promote_model(model=model, version=trained.outputs["version"],
                      model_uri=trained.outputs["model_uri"],
                      metrics_json=evaluated.outputs["Output"],
                      decision_json=gate.outputs["decision"])
    return gate.outputs["decision"]
