"""The fake Katib and KServe controllers move as the real ones do, and the fake trainer prints what
the real stub trainer prints: the engine tests are only as meaningful as these fakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_cluster import FakeCluster
from fake_controllers import (
    WORKLOADS,
    FakeForwards,
    install_katib,
    install_kserve,
    install_workloads,
    run_stub_trainer,
)

from appliance.serving.endpoint import Endpoint
from appliance.serving.records import ModelRef
from appliance.targets.cluster.client import ObjRef
from appliance.targets.cluster.serving import inference_service
from appliance.targets.cluster.tuning import prepare
from appliance.tuning import experiment as experiments
from conformance.experiments import manifest
from stubs import dataset, train

EXPERIMENT = ObjRef("kubeflow.org/v1beta1", "Experiment", "stub-failing", WORKLOADS)
ISVC = ObjRef("serving.kserve.io/v1beta1", "InferenceService", "iris", WORKLOADS)


@pytest.mark.parametrize("args", [
    ["--lr=0.01", "--depth=6"],
    ["--lr=0.1", "--depth=3", "--epochs=3"],
    ["--lr=0.02", "--depth=6", "--fail-after-epoch=2"],
    ["--lr=0.02", "--depth=6", "--fail-after-epoch=0"],
    ["--lr=-1", "--depth=6"],
])
def test_the_fake_trainer_prints_what_the_stub_trainer_prints(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train.csv"
    data.write_bytes(dataset.generate("train", 20, 7))
    code = train.main([*args, f"--data={data}", f"--out={tmp_path / 'model.json'}"])
    stdout, ok = run_stub_trainer(("python", "-m", "stubs.train", *args, "--data=s3://b/k", "--out=s3://b/m"))
    assert (stdout.strip(), ok) == (capsys.readouterr().out.strip(), code == 0)


def phases(fake: FakeCluster, ref: ObjRef, seconds: int) -> list[tuple[float, tuple[str, ...]]]:
    """(time, true conditions) whenever they change, second by second."""
    out: list[tuple[float, tuple[str, ...]]] = []
    for _ in range(seconds):
        conditions = (fake.get(ref) or {}).get("status", {}).get("conditions", [])
        true = tuple(c["type"] for c in conditions if c["status"] == "True")
        if not out or out[-1][1] != true:
            out.append((fake.now, true))
        fake.advance(1)
    return out


def test_an_experiment_goes_created_running_failed_with_its_trials() -> None:
    fake = FakeCluster()
    install_workloads(fake)
    install_katib(fake, webhook=False, trial_seconds=10)
    # As the engine applies it: a trial pod without the restricted context would be refused.
    document, _ = prepare(experiments.parse(manifest("failing")).document(), WORKLOADS, "stubs:1")
    start = fake.now
    fake.apply([document])
    seen = [(t - start, c) for t, c in phases(fake, EXPERIMENT, 15)]
    assert seen == [(0.0, ()), (1.0, ("Created",)), (2.0, ("Created", "Running")),
                    (12.0, ("Created", "Failed"))]
    status = fake.get(EXPERIMENT)["status"]  # type: ignore[index]
    assert (status["trials"], status["trialsFailed"]) == (2, 2) and "completionTime" in status
    trials = fake.list("kubeflow.org/v1beta1", "Trial", WORKLOADS)
    jobs = fake.list("batch/v1", "Job", WORKLOADS)
    assert sorted(t["metadata"]["name"] for t in trials) == sorted(j["metadata"]["name"] for j in jobs)
    # Deleting the Experiment takes its Trials and their Jobs along (owner references).
    fake.delete(EXPERIMENT)
    assert fake.list("kubeflow.org/v1beta1", "Trial", WORKLOADS) == []
    assert fake.list("batch/v1", "Job", WORKLOADS) == []


def test_an_inference_service_is_ready_a_tick_after_its_predictor_and_rolls_with_surge() -> None:
    fake = FakeCluster()
    install_workloads(fake)
    install_kserve(fake, webhook=False)
    first, second = "s3://m/iris/1/model.json", "s3://m/iris/2/model.json"
    start = fake.now
    fake.apply([inference_service("iris", ModelRef(first, "1"), None, namespace=WORKLOADS,
                                  stubs_image="s:1")])
    seen = [(t - start, c) for t, c in phases(fake, ISVC, 10)]
    # Deployment and pod on the first tick, the container running 2 s later and Ready 3 s after
    # that (6); KServe sees the Deployment Available on the next tick.
    assert seen == [(0.0, ()), (1.0, ("IngressReady",)),
                    (7.0, ("IngressReady", "PredictorReady", "Ready"))]
    forwards = FakeForwards(fake, {first: "1", second: "2"})
    port = forwards.ensure("serve/iris", WORKLOADS, "iris-predictor", 80)
    endpoint = Endpoint("iris", f"http://127.0.0.1:{port}")
    fake.apply([inference_service("iris", ModelRef(second, "2"), ModelRef(first, "1"), namespace=WORKLOADS,
                                  stubs_image="s:1")])
    served = []
    for _ in range(12):
        fake.advance(1)
        pods = fake.list("v1", "Pod", WORKLOADS)
        served.append((forwards.served_version(endpoint), len(pods),
                       sum(bool(p["metadata"].get("deletionTimestamp")) for p in pods)))
    # The new pod comes at once (surge 1); the old one serves until the new one is Ready (after
    # 5 s, and both are Ready for a tick), then terminates for 2 s (terminate_after).
    assert served == [("1", 2, 0)] * 6 + [("2", 2, 1)] * 2 + [("2", 1, 0)] * 4
