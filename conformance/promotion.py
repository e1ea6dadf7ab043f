"""The promotion flow the promotion area runs on the stack: evaluate a stored model on the stub
dataset, gate it against the registry's champion, promote it when the gate says so.

Built from the reusable components of conformance/pipelines/ (evaluate_model, gate_model,
promote_model), as a user's pipeline would be. The metrics are written under `prefix` (the
test's own object-store prefix); decisions and the champion pointer live in the registry.
"""

from kfp import dsl

from conformance.pipelines.components import evaluate_model, gate_model, promote_model

NAME = "conformance-promotion"


@dsl.pipeline(name=NAME, description="Evaluate a stub model, gate it, promote it if it passes.")
def evaluate_gate_promote(
    model: str, version: str, model_uri: str, data_uri: str, policy: str, prefix: str
) -> str:
    evaluated = evaluate_model(pipeline=prefix, run_id=version, model_uri=model_uri, data_uri=data_uri)
    gate = gate_model(model=model, version=version, model_uri=model_uri,
                      metrics_json=evaluated.outputs["Output"], policy_yaml=policy)
    with dsl.If(gate.outputs["promote"] == True):  # noqa: E712 (a KFP condition, not Python)
        promote_model(model=model, version=version, model_uri=model_uri,
                      metrics_json=evaluated.outputs["Output"], decision_json=gate.outputs["decision"])
    return gate.outputs["decision"]
