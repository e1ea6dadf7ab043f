"""Reference pipeline whose evaluate step fails: the model declares fail_on_load, so loading it
raises StubFault; the gate downstream never runs and the run is FAILED naming evaluate-model."""

from kfp import dsl

from conformance.pipelines.components import create_model, evaluate_model, gate_model, make_dataset
from conformance.pipelines.train_gate_promote import POLICY

NAME = "failing-step"


@dsl.pipeline(name=NAME, description="A model that cannot load fails evaluation; no gate runs.")
def failing_step(model: str = "broken", rows: int = 50, seed: int = 1) -> None:
    run_id = dsl.PIPELINE_JOB_ID_PLACEHOLDER
    data = make_dataset(pipeline=NAME, run_id=run_id, name="eval", rows=rows, seed=seed)
    created = create_model(pipeline=NAME, run_id=run_id, model=model, version="1", accuracy=0.9,
                           fail_on_load=True)
    evaluated = evaluate_model(pipeline=NAME, run_id=run_id, model_uri=created.output,
                               data_uri=data.output)
    gate_model(model=model, version="1", model_uri=created.output,
               metrics_json=evaluated.outputs["Output"], policy_yaml=POLICY)
