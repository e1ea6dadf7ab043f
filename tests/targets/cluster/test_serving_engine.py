"""The cluster serving backend against FakeCluster with a fake KServe and a fake forwarder: what
is applied, the waits of deploy/rollout/rollback/delete, their timeouts and diagnoses."""

from __future__ import annotations

from typing import Any

import pytest
from fake_cluster import CRASH_LOOP, IMAGE_PULL, FakeCluster, Fault
from fake_controllers import WORKLOADS, FakeForwards, install_kserve, install_workloads, secret_value

from appliance.errors import BadInput
from appliance.serving.endpoint import Endpoint
from appliance.serving.engine import BackendServingEngine
from appliance.serving.interface import RolloutFailed
from appliance.serving.records import Health, ModelRef
from appliance.targets.cluster.apply import ApplyFailed
from appliance.targets.cluster.client import ApiError, ObjRef
from appliance.targets.cluster.readiness import NotReady
from appliance.targets.cluster.serving import InferenceServices, inference_service

IMAGE = "appliance-stubs:test"
ISVC = "serving.kserve.io/v1beta1"
V1, V2, BROKEN = ("s3://models/iris/1/model.json", "s3://models/iris/2/model.json",
                  "s3://models/iris/3/broken.json")
VERSIONS = {V1: "1", V2: "2", BROKEN: "3"}
LOAD_ERROR = "error: model iris version 3 declares fail_on_load: refusing to load\n"


class Probe:
    """The served-version seam over FakeForwards, remembering every answer the endpoint gave."""

    def __init__(self, forwards: FakeForwards) -> None:
        self.forwards = forwards
        self.answers: list[str | None] = []

    def __call__(self, endpoint: Endpoint) -> str | None:
        self.answers.append(self.forwards.served_version(endpoint))
        return self.answers[-1]


def setup(*, ready: bool = True, **knobs: Any) -> tuple[FakeCluster, FakeForwards, Probe, InferenceServices]:
    fake = FakeCluster(**knobs)
    install_workloads(fake)
    install_kserve(fake, ready=ready)
    forwards = FakeForwards(fake, VERSIONS)
    probe = Probe(forwards)
    backend = InferenceServices(fake, forwards, lambda uri: ModelRef(uri, VERSIONS[uri]), fake.clock, IMAGE,
                                served=probe)
    return fake, forwards, probe, backend


def stored(fake: FakeCluster, name: str = "iris") -> dict[str, Any]:
    return fake.stored(ISVC, "InferenceService", name, WORKLOADS)


def pods(fake: FakeCluster) -> list[tuple[str, bool]]:
    """(model URI, terminating) of each predictor pod, oldest first."""
    out = []
    for pod in sorted(fake.list("v1", "Pod", WORKLOADS), key=lambda p: p["metadata"]["creationTimestamp"]):
        env = pod["spec"]["containers"][0]["env"]
        out.append((env[0]["value"], bool(pod["metadata"].get("deletionTimestamp"))))
    return out


def serving_model(uri: str) -> Any:
    return lambda pod: any(e.get("value") == uri for e in pod["spec"]["containers"][0].get("env", []))


def test_deploy_applies_a_standard_mode_inference_service_and_waits_until_it_serves() -> None:
    fake, forwards, probe, backend = setup()
    start = fake.now
    deployment = backend.deploy("iris", V1)
    assert (deployment.model, deployment.previous, deployment.generation) == (ModelRef(V1, "1"), None, 1)
    assert deployment.endpoint == Endpoint("iris", "http://127.0.0.1:41000")
    assert forwards.targets == {"serve/iris": (WORKLOADS, "iris-predictor", 80)}
    # Created, scheduled, container started (2 s) and Ready (3 s later), then seen by KServe.
    assert fake.now - start == 8.0 and probe.answers == ["1"]
    isvc = stored(fake)
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Standard",
                                               "appliance.dev/model-version": "1"}
    assert isvc["spec"] == inference_service("iris", ModelRef(V1, "1"), None, namespace=WORKLOADS,
                                             stubs_image=IMAGE)["spec"]
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["serviceAccountName"]) == (
        1, 1, "appliance-models")
    assert predictor["deploymentStrategy"] == {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    [container] = predictor["containers"]
    assert container["command"] == ["python", "-m", "stubs.server"]
    assert container["args"] == ["--model-uri", "/mnt/models/model.json", "--port", "8080",
                                 "--host", "0.0.0.0", "--name", "iris"]
    assert container["env"] == [{"name": "STORAGE_URI", "value": V1}]
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "512Mi"}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert (container["image"], container["imagePullPolicy"]) == (IMAGE, "IfNotPresent")
    # The pod passed Pod Security restricted (kserve-container and the storage-initializer), and
    # the storage-initializer got the read-only Secret's keys and the s3-* annotations as env.
    [pod] = fake.list("v1", "Pod", WORKLOADS)
    [init] = pod["spec"]["initContainers"]
    assert init["args"] == [V1, "/mnt/models"]
    assert {e["name"]: e.get("value", e.get("valueFrom")) for e in init["env"]} == {
        "AWS_ACCESS_KEY_ID": {"secretKeyRef": {"name": "appliance-s3-serving", "key": "AWS_ACCESS_KEY_ID"}},
        "AWS_SECRET_ACCESS_KEY": {"secretKeyRef": {"name": "appliance-s3-serving",
                                                   "key": "AWS_SECRET_ACCESS_KEY"}},
        "S3_USE_HTTPS": "0", "S3_ENDPOINT": "minio.object-store.svc.cluster.local:9000",
        "AWS_ENDPOINT_URL": "http://minio.object-store.svc.cluster.local:9000", "S3_VERIFY_SSL": "0",
        "AWS_DEFAULT_REGION": "us-east-1"}
    assert secret_value(fake, "appliance-s3-serving", "AWS_ACCESS_KEY_ID") == "appliance-serving"
    assert backend.health(deployment) == Health(True, "ready")


def test_a_rollout_keeps_the_old_pod_serving_until_the_new_one_is_ready() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    probe.answers.clear()
    start = fake.now
    deployment = backend.rollout("iris", V2)
    assert (deployment.model, deployment.previous, deployment.generation) == (
        ModelRef(V2, "2"), ModelRef(V1, "1"), 2)
    # The endpoint answered at every look: first the old model, then the new one, never nothing.
    assert probe.answers == ["2"] and None not in probe.answers
    assert fake.now - start == 8.0
    # Surge 1, none unavailable: the old pod went only once the new one was Ready; it terminates now.
    assert pods(fake) == [(V1, True), (V2, False)]
    assert stored(fake)["metadata"]["annotations"] == {
        "serving.kserve.io/deploymentMode": "Standard", "appliance.dev/model-version": "2",
        "appliance.dev/previous-model-uri": V1, "appliance.dev/previous-model-version": "1"}
    fake.advance(2)
    assert pods(fake) == [(V2, False)]


def test_the_wait_goes_on_while_the_endpoint_still_answers_with_the_old_model() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    # A forward whose connections still reach the old model twice after KServe and the
    # Deployment are done: the wait goes on two more polls (2 s each).
    stale = iter(["1", "1"])
    backend.served = lambda endpoint: next(stale, "") or forwards.served_version(endpoint)
    start = fake.now
    assert backend.rollout("iris", V2).model == ModelRef(V2, "2")
    assert fake.now - start == 8.0 + 2 * 2.0


def test_rollback_serves_the_previous_model_again_from_the_annotations_alone() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    backend.deploy("iris", V2)
    # A new backend (as after lost local state) finds the rollback target on the InferenceService.
    again = InferenceServices(fake, FakeForwards(fake, VERSIONS), lambda uri: ModelRef(uri, VERSIONS[uri]),
                              fake.clock, IMAGE, served=probe)
    deployment = again.rollback("iris")
    assert (deployment.model, deployment.previous, deployment.generation) == (
        ModelRef(V1, "1"), ModelRef(V2, "2"), 3)
    assert probe.answers[-1] == "1"
    assert again.rollback("iris").model == ModelRef(V2, "2")


def test_redeploying_the_same_model_keeps_the_rollback_target() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    backend.deploy("iris", V2)
    since = fake.now
    deployment = backend.deploy("iris", V2)
    assert (deployment.previous, deployment.generation, fake.now - since) == (ModelRef(V1, "1"), 2, 0.0)


def test_rollback_without_a_previous_model_is_bad_input() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    with pytest.raises(BadInput) as caught:
        backend.rollback("iris")
    assert caught.value.render() == (
        f"deployment 'iris' has no previous model to roll back to: it has only served {V1} "
        "(fix: deploy another model with 'appliance serve deploy iris --model-uri URI')")


def test_a_model_outside_the_object_store_is_refused_before_anything_is_applied() -> None:
    fake, forwards, probe, backend = setup()
    since = len(fake.calls)
    with pytest.raises(BadInput) as caught:
        backend.deploy("iris", "/tmp/model.json")
    assert caught.value.render() == (
        "cannot serve /tmp/model.json on a cluster: KServe's storage-initializer downloads models from "
        "the stack's object store (fix: upload the artifact and pass its s3://bucket/key URI)")
    assert fake.calls[since:] == []


def test_a_rollout_to_a_model_that_cannot_load_times_out_diagnosed_and_is_put_back() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    fake.fault(WORKLOADS, "iris-predictor",
               Fault(CRASH_LOOP, previous_log=LOAD_ERROR, pods=serving_model(BROKEN)))
    start = fake.now
    with pytest.raises(NotReady) as caught:
        backend.rollout("iris", BROKEN)
    assert fake.now - start == 180.0
    assert caught.value.what == (
        f"deployment 'iris' did not serve {BROKEN} (version 3) within 180s; the InferenceService was put "
        f"back to {V1} (its pods kept serving)")
    isvc, predictor = caught.value.diagnoses
    # KServe says Ready (the old pod is available); the rollout is what never completes.
    assert isvc.status == ("predictor rollout: 1 old replica(s) still serving, the new one(s) not "
                           "available yet")
    assert isvc.conditions[1:3] == ("PredictorReady=True", "Ready=True")
    assert predictor.component == f"Deployment {WORKLOADS}/iris-predictor"
    assert any("kserve-container: waiting CrashLoopBackOff" in line for line in predictor.pods)
    [(title, log)] = predictor.logs
    assert title.endswith("/kserve-container (last 50 lines)") and log == LOAD_ERROR.rstrip("\n")
    # The old model served throughout and is what the deployment serves now.
    assert set(probe.answers) == {"1"}
    assert backend.get("iris").model == ModelRef(V1, "1")  # type: ignore[union-attr]
    fake.run_until(lambda: pods(fake) == [(V1, False)])
    assert forwards.served_version(backend.require("iris").endpoint) == "1"


def test_a_first_deploy_that_never_gets_ready_is_removed_with_its_diagnosis() -> None:
    fake, forwards, probe, backend = setup()
    fake.fault(WORKLOADS, "iris-predictor", Fault(IMAGE_PULL))
    with pytest.raises(NotReady) as caught:
        backend.deploy("iris", V1)
    assert caught.value.what == (
        f"deployment 'iris' did not serve {V1} (version 1) within 180s; the new InferenceService was deleted")
    isvc, predictor = caught.value.diagnoses
    assert isvc.status == "PredictorReady=False (MinimumReplicasUnavailable: Deployment does not have " \
        "minimum availability.)"
    assert any("waiting ImagePullBackOff" in line for line in predictor.pods)
    assert any(hint.startswith(f"image {IMAGE} cannot be pulled") for hint in predictor.hints)
    assert backend.get("iris") is None and forwards.ports == {}


def test_delete_waits_until_the_pods_are_gone_and_drops_the_forward() -> None:
    fake, forwards, probe, backend = setup(terminate_after=7)
    backend.deploy("iris", V1)
    start = fake.now
    backend.delete("iris")
    assert fake.now - start == 8.0 and fake.list("v1", "Pod", WORKLOADS) == []
    assert forwards.removed == ["serve/iris"] and backend.all() == []
    assert fake.get(ObjRef("apps/v1", "Deployment", "iris-predictor", WORKLOADS)) is None


def test_delete_times_out_naming_the_pods_that_stay() -> None:
    fake, forwards, probe, backend = setup(terminate_after=500)
    backend.deploy("iris", V1)
    with pytest.raises(NotReady) as caught:
        backend.delete("iris")
    assert caught.value.what == "deployment 'iris' was deleted but its pods did not go in 60s"
    [diagnosis] = caught.value.diagnoses
    assert diagnosis.status == "1 pod(s) of 'iris' still terminating"
    [line] = diagnosis.pods
    assert line.startswith("pod iris-predictor-") and line.endswith(": Running, terminating, not ready")


def test_an_unknown_deployment_is_bad_input_listing_the_ones_there_are() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    with pytest.raises(BadInput) as caught:
        backend.delete("churn")
    assert caught.value.render() == (
        f"no deployment named 'churn' in namespace {WORKLOADS}: deployments: iris "
        "(fix: deploy it with 'appliance serve deploy churn --model-uri URI')")


def test_deploy_is_retried_while_kserves_webhook_does_not_serve() -> None:
    fake, forwards, probe, backend = setup(ready=False)
    since = len(fake.calls)
    backend.deploy("iris", V1)
    attempts = [args[0] for call, args in fake.calls[since:] if call == "apply"]
    # Every 2 s until the webhook's controller is Available and listening.
    assert attempts == [ObjRef(ISVC, "InferenceService", "iris", WORKLOADS)] * 5


def test_a_refusal_that_is_not_the_webhook_starting_fails_at_once_quoting_the_server() -> None:
    fake, forwards, probe, backend = setup()
    message = ('admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request: '
               "the InferenceService \"iris\" is invalid")
    fake.fail_next(ApiError(400, "BadRequest", message), ref=lambda r: r.kind == "InferenceService")
    with pytest.raises(ApplyFailed) as caught:
        backend.deploy("iris", V1)
    assert caught.value.why == f"400 BadRequest: {message}"
    # Nothing changed and the same model would be refused again: the follower leaves it alone.
    assert isinstance(caught.value, RolloutFailed) and fake.get(ObjRef(ISVC, "InferenceService", "iris",
                                                                         WORKLOADS)) is None


def test_the_shared_engine_lists_deployments_with_their_health() -> None:
    fake, forwards, probe, backend = setup()
    engine = BackendServingEngine(backend, lambda: None)  # type: ignore[arg-type, return-value]
    engine.deploy("iris", V1)
    engine.deploy("churn", V2)
    listed = [(d.name, d.model.version, h) for d, h in engine.list()]
    assert listed == [("churn", "2", Health(True, "ready")), ("iris", "1", Health(True, "ready"))]
    assert engine.endpoint("churn").v2_url == "http://127.0.0.1:41001/v2/models/churn/infer"
    fake.fault(WORKLOADS, "churn-predictor", Fault(CRASH_LOOP))
    fake.advance(30)
    assert engine.list()[0][1] == Health(False, "PredictorReady=False (MinimumReplicasUnavailable: "
                                                "Deployment does not have minimum availability.)")


def test_status_shows_each_deployment_as_the_local_target_names_it(tmp_path: Any) -> None:
    from appliance.targets.cluster.settings import ClusterSettings
    from appliance.targets.cluster.stacks import DEPLOYMENT_ROLE, deployment_statuses
    from appliance.targets.interface import ComponentStatus

    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    settings = ClusterSettings(tmp_path / "kubeconfig", "kind-dev", workload_namespace=WORKLOADS)
    extra = {"role": DEPLOYMENT_ROLE, "deployment": "iris", "model_uri": V1, "version": "1",
             "note": f"serves {V1} version 1"}
    # No forwarder of this run dir runs (the fake's forwards are in memory): no endpoint, and
    # status starts none.
    assert deployment_statuses(fake, settings, tmp_path) == [
        ComponentStatus("serve/iris", "", True, "ready", extra=extra)]
    # As KServe writes it while the predictor is down (no clock tick: the fake controller keeps it).
    fake.stored(ISVC, "InferenceService", "iris", WORKLOADS)["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "PredictorNotReady"}]
    [shown] = deployment_statuses(fake, settings, tmp_path)
    assert (shown.name, shown.healthy, shown.detail) == (
        "serve/iris", False, "Ready=False (PredictorNotReady)")


def test_a_rollout_says_what_it_waits_for() -> None:
    fake, forwards, probe, backend = setup()
    backend.deploy("iris", V1)
    lines: list[str] = []
    backend.deploy("iris", V2, progress=lines.append)
    assert lines == [
        "deployment iris: KServe has not observed generation 2 yet (observed 1) (0s)",
        "deployment iris: predictor rollout: 1 old replica(s) still serving, the new one(s) not "
        "available yet (2s)",
    ]
