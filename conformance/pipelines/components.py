"""Reusable KFP v2 components over the stubs and the promotion gate.

Lightweight Python components: each function body is shipped on its own, so imports live inside
it. They need `appliance` and `stubs` importable where they run: on the local target that is the
appliance's own interpreter; on a cluster, build BASE_IMAGE with both installed. Objects are read
and written through AWS_* environment variables (the local target sets them for every task).

Object layout of a run: s3://<bucket>/<pipeline>/<run_id>/{data/<name>.csv, model/model.json,
metrics/metrics.json}; gate decisions and the champion pointer live in the registry
(s3://<bucket>/registry/<model>/, see appliance/gates/registry.py).
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Metrics, Output

BASE_IMAGE = "python:3.11"  # on a cluster: an image with kfp, appliance and stubs installed


@dsl.component(base_image=BASE_IMAGE)
def make_dataset(pipeline: str, run_id: str, name: str, rows: int, seed: int,
                 bucket: str = "mlpipeline") -> str:
    """Write the deterministic stub dataset; returns its s3:// URI."""
    from stubs import dataset

    uri = f"s3://{bucket}/{pipeline}/{run_id}/data/{name}.csv"
    dataset.write(uri, name, rows, seed)
    print(f"wrote {rows} rows (seed {seed}) to {uri}")
    return uri


@dsl.component(base_image=BASE_IMAGE)
def train_model(pipeline: str, run_id: str, data_uri: str, model: str, lr: float, depth: int,
                epochs: int = 5, bucket: str = "mlpipeline") -> NamedTuple(
    "Trained", [("model_uri", str), ("version", str)]
):
    """Train the stub model (accuracy is a known function of lr and depth); returns its URI."""
    from collections import namedtuple

    from stubs import dataset, train
    from stubs import model as models

    rows = dataset.read(data_uri)
    print(f"training {model} on {len(rows)} rows: lr={lr} depth={depth}")
    for epoch, accuracy, loss in train.epoch_metrics(lr, depth, epochs):
        print(train.format_metrics(epoch, accuracy, loss))
    version = run_id
    uri = f"s3://{bucket}/{pipeline}/{run_id}/model/model.json"
    models.save(train.train(lr, depth, epochs, model, version), uri)
    print(f"wrote model {model} version {version} to {uri}")
    return namedtuple("Trained", ["model_uri", "version"])(uri, version)


@dsl.component(base_image=BASE_IMAGE)
def create_model(pipeline: str, run_id: str, model: str, version: str, accuracy: float,
                 fail_on_load: bool = False, bucket: str = "mlpipeline") -> str:
    """Write a stub model with a declared accuracy (and fault knob); returns its URI."""
    from stubs import model as models

    uri = f"s3://{bucket}/{pipeline}/{run_id}/model/model.json"
    models.save(models.create(model, version, accuracy, fail_on_load=fail_on_load), uri)
    print(f"wrote model {model} version {version} (declared accuracy {accuracy}) to {uri}")
    return uri


@dsl.component(base_image=BASE_IMAGE)
def evaluate_model(pipeline: str, run_id: str, model_uri: str, data_uri: str,
                   metrics: Output[Metrics], bucket: str = "mlpipeline") -> str:
    """Evaluate on the stub dataset; writes metrics JSON next to the model, returns it."""
    import json

    from stubs import dataset
    from stubs import model as models
    from stubs import uri as uris

    result = models.evaluate(models.load(model_uri), dataset.read(data_uri))
    text = json.dumps(result, sort_keys=True)
    uri = f"s3://{bucket}/{pipeline}/{run_id}/metrics/metrics.json"
    uris.write_bytes(uri, (text + "\n").encode(), content_type="application/json")
    metrics.log_metric("accuracy", result["accuracy"])
    for group, values in result["groups"].items():
        metrics.log_metric(f"accuracy_{group}", values["accuracy"])
    print(f"accuracy {result['accuracy']} on {result['rows']} rows; wrote {uri}")
    return text


@dsl.component(base_image=BASE_IMAGE)
def gate_model(model: str, version: str, model_uri: str, metrics_json: str, policy_yaml: str,
               bucket: str = "mlpipeline") -> NamedTuple(
    "Gate", [("promote", bool), ("decision", str)]
):
    """Compare the challenger with the registry's champion under the policy; record the decision
    in the registry. Outputs `promote` (for dsl.If) and the decision JSON (for promote_model)."""
    import json
    from collections import namedtuple

    from appliance.gates import policy as policies
    from appliance.gates.registry import Entry, Registry

    registry = Registry.from_env(bucket)
    entry = Entry(version, model_uri, json.loads(metrics_json))
    decision = registry.gate(model, entry, policies.loads(policy_yaml, "policy_yaml"))
    for rule in decision.rules:
        print(f"{rule.verdict:<4} {rule.rule:<11} {rule.metric:<16} {rule.detail}")
    verdict = "PROMOTE" if decision.promote else "REJECT"
    print(f"{verdict} {model} {version} (decision {decision.id})")
    return namedtuple("Gate", ["promote", "decision"])(decision.promote,
                                                       json.dumps(decision.to_dict()))


@dsl.component(base_image=BASE_IMAGE)
def promote_model(model: str, version: str, model_uri: str, metrics_json: str,
                  decision_json: str, bucket: str = "mlpipeline") -> int:
    """Move the champion pointer to the challenger; fails if the champion moved since the gate
    decided (StaleDecision) rather than promote on a stale comparison. Returns the revision."""
    import json

    from appliance.gates.decision import Decision
    from appliance.gates.registry import Entry, Registry

    registry = Registry.from_env(bucket)
    entry = Entry(version, model_uri, json.loads(metrics_json))
    record = registry.promote(model, entry, Decision.from_dict(json.loads(decision_json)))
    print(f"{model}: champion is {version} (revision {record.revision})")
    return record.revision


@dsl.component(base_image=BASE_IMAGE)
def pick_best(results: list) -> str:
    """The best of the fan-out's results (JSON objects with lr and accuracy); ties: lowest lr."""
    import json

    parsed = [json.loads(r) for r in results]
    best = max(parsed, key=lambda r: (r["accuracy"], -r["lr"]))
    print(f"best of {len(parsed)}: lr={best['lr']} accuracy={best['accuracy']}")
    return json.dumps(best, sort_keys=True)


@dsl.component(base_image=BASE_IMAGE)
def score_lr(lr: float, depth: int) -> str:
    """The stub trainer's final accuracy for (lr, depth), as JSON."""
    import json

    from stubs import train

    accuracy = train.accuracy_for(lr, depth)
    print(f"lr={lr} depth={depth} accuracy={accuracy}")
    return json.dumps({"lr": lr, "depth": depth, "accuracy": accuracy}, sort_keys=True)


@dsl.component(base_image=BASE_IMAGE)
def report(message: str) -> str:
    print(message)
    return message
