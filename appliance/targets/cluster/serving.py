"""Serving on a cluster: one KServe InferenceService (Standard mode) per deployment in the workload
namespace, behind a stable local port from the forwarder.

The predictor is the stub model server on the stubs image (`python -m stubs.server`, bound to
0.0.0.0 inside its pod); KServe's storage-initializer downloads the `s3://` artifact to
/mnt/models with the workload S3 Secret that the predictors' ServiceAccount lists
(workloads.py). Everything the lifecycle needs is on the InferenceService itself (the served
model's version and the previous model, in annotations), so rollback works after lost state.

A rollout applies the new model URI; the predictor Deployment rolls with surge 1 and none
unavailable, so the old pod serves until the new one is Ready (the forwarder sends each
connection to a Ready, non-terminating pod). `deploy` returns when KServe observed the new
generation and says Ready, the predictor rollout is complete and the forward answers with the
requested version. A rollout that does not get there is undone (the old pods kept serving).

Following the registry (`serve follow`) runs a background process on this machine per followed
model (followers.py), as the forwards do; `delete` stops a deployment's follower first.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import requests

from appliance.console import Progress
from appliance.errors import BadInput
from appliance.k8s.data import as_dict, as_list, conditions
from appliance.serving.endpoint import Endpoint
from appliance.serving.interface import RolloutFailed
from appliance.serving.records import Deployment, Follower, Health, ModelRef, validate_name
from appliance.targets.cluster.apply import ApplyFailed, apply_admitted
from appliance.targets.cluster.client import KubeClient, ObjRef
from appliance.targets.cluster.diagnosis import Diagnosis, condition_lines, pod_lines
from appliance.targets.cluster.readiness import Component, NotReady, explain, observe
from appliance.targets.cluster.settings import WORKLOAD_NAMESPACE, of_stack
from appliance.targets.cluster.wait import Clock, SystemClock, TimedOut, wait_for
from appliance.targets.cluster.workloads import MANAGED_BY, MODEL_SERVICE_ACCOUNT, RESTRICTED_CONTAINER

if TYPE_CHECKING:
    from appliance.serving.engine import BackendServingEngine
    from appliance.stack import Stack

Obj = dict[str, Any]

ISVC_API = "serving.kserve.io/v1beta1"
ISVC_KIND = "InferenceService"
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
ISVC_LABEL = "serving.kserve.io/inferenceservice"  # KServe labels the predictor pods with it
VERSION = "appliance.dev/model-version"
PREVIOUS_URI = "appliance.dev/previous-model-uri"
PREVIOUS_VERSION = "appliance.dev/previous-model-version"
CONTAINER = "kserve-container"
STORAGE_URI = "STORAGE_URI"  # a custom predictor's storage URI (KServe's predictor_custom.go)
MODEL_DIR = "/mnt/models"  # where the storage-initializer puts it
PORT = 8080
SERVICE_PORT = 80  # the predictor Service `<name>-predictor` (Standard mode)
RESOURCES: Obj = {"requests": {"cpu": "50m", "memory": "128Mi"},
                  "limits": {"cpu": "500m", "memory": "512Mi"}}
READY_TIMEOUT = 180.0
DELETE_TIMEOUT = 60.0
CREATE_TIMEOUT = 120.0  # KServe's webhook serves once its controller is up
POLL_SECONDS = 2.0
PROBE_TIMEOUT = 5.0


class Forwards(Protocol):
    """Stable 127.0.0.1 ports to cluster Services (the supervised port-forwarder)."""

    def ensure(self, name: str, namespace: str, service: str, port: int) -> int:
        """Start (or keep) forward `name` to `service:port` in `namespace`; its local port."""
        ...

    def remove(self, name: str) -> None: ...


class Followers(Protocol):
    """Registry followers: background processes on this machine, one per followed model."""

    def start(self, name: str, interval: float, argv: list[str], env: Mapping[str, str]) -> Follower: ...

    def stop(self, name: str, timeout: float) -> bool:
        """Stop the follower of `name` (SIGTERM, `timeout` s, then SIGKILL); whether one ran."""
        ...


class RolloutNotReady(NotReady, RolloutFailed):
    """A deploy or rollout that did not serve its model in time and was undone."""


class RolloutRefused(ApplyFailed, RolloutFailed):
    """The API server (or KServe's webhook) refused the InferenceService of a deploy or rollout:
    nothing changed, and applying the same model again would be refused again."""


# Refusals of the object itself, as opposed to the API server or a webhook not answering yet.
REFUSED_STATUSES = frozenset({400, 403, 422})


# The model version a deployment's endpoint answers with (None: not answering).
ServedVersion = Callable[[Endpoint], str | None]


def served_version(endpoint: Endpoint) -> str | None:
    """Ask the endpoint: a v2 inference of zero rows answers with the served `model_version`."""
    body = {"inputs": [{"name": "input-0", "shape": [0, 4], "datatype": "FP64", "data": []}]}
    try:
        response = requests.post(endpoint.v2_url, json=body, timeout=PROBE_TIMEOUT)
        answer = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    version = answer.get("model_version") if isinstance(answer, dict) else None
    return None if version is None else str(version)


def forward_name(name: str) -> str:
    return f"serve/{name}"


def predictor(name: str) -> str:
    """The predictor Deployment and Service KServe creates for InferenceService `name`."""
    return f"{name}-predictor"


def inference_service(name: str, model: ModelRef, previous: ModelRef | None, *, namespace: str,
                      stubs_image: str) -> Obj:
    """The InferenceService serving `model` as `name`; `previous` is what rollback returns to."""
    annotations = {DEPLOYMENT_MODE: "Standard", VERSION: model.version}
    if previous is not None:
        annotations |= {PREVIOUS_URI: previous.uri, PREVIOUS_VERSION: previous.version}
    file = model.uri.rstrip("/").rsplit("/", 1)[-1]
    container = {
        "name": CONTAINER,
        "image": stubs_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "stubs.server"],
        # In a pod the server must listen on the pod's address (it binds 127.0.0.1 by default).
        "args": ["--model-uri", f"{MODEL_DIR}/{file}", "--port", str(PORT), "--host", "0.0.0.0",
                 "--name", name],
        "env": [{"name": STORAGE_URI, "value": model.uri}],
        "ports": [{"containerPort": PORT, "protocol": "TCP"}],
        "resources": copy.deepcopy(RESOURCES),
        "securityContext": copy.deepcopy(RESTRICTED_CONTAINER),
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": PORT},
                           "periodSeconds": 2, "failureThreshold": 3},
    }
    return {
        "apiVersion": ISVC_API, "kind": ISVC_KIND,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY),
                     "annotations": annotations},
        "spec": {"predictor": {
            "minReplicas": 1,
            "maxReplicas": 1,
            "deploymentStrategy": {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "serviceAccountName": MODEL_SERVICE_ACCOUNT,
            "containers": [container],
        }},
    }


def model_of(isvc: Obj) -> ModelRef | None:
    """The model an InferenceService is set to serve (its STORAGE_URI and version annotation)."""
    annotations = as_dict(as_dict(isvc.get("metadata")).get("annotations"))
    for container in as_list(as_dict(as_dict(isvc.get("spec")).get("predictor")).get("containers")):
        if as_dict(container).get("name") == CONTAINER:
            for env in as_list(as_dict(container).get("env")):
                if as_dict(env).get("name") == STORAGE_URI and as_dict(env).get("value"):
                    return ModelRef(str(env["value"]), str(annotations.get(VERSION, "")))
    return None


def previous_of(isvc: Obj) -> ModelRef | None:
    annotations = as_dict(as_dict(isvc.get("metadata")).get("annotations"))
    uri = annotations.get(PREVIOUS_URI)
    return ModelRef(str(uri), str(annotations.get(PREVIOUS_VERSION, ""))) if uri else None


def isvc_waiting(isvc: Obj) -> str | None:
    """None when KServe observed the latest spec and says Ready; else why not."""
    meta, status = as_dict(isvc.get("metadata")), as_dict(isvc.get("status"))
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if observed < generation:
        return f"KServe has not observed generation {generation} yet (observed {observed})"
    found = conditions(isvc)
    if as_dict(found.get("Ready")).get("status") == "True":
        return None
    for kind in ("PredictorReady", "Ready"):
        cond = found.get(kind)
        if cond is not None and cond.get("status") != "True":
            detail = ": ".join(str(x) for x in (cond.get("reason"), cond.get("message")) if x)
            return f"{kind}={cond.get('status')}" + (f" ({detail})" if detail else "")
    return "no Ready condition yet"


def rollout_waiting(deployment: Obj) -> str | None:
    """None when the predictor's rollout is complete (`kubectl rollout status`: every replica
    updated and available, no old replica left); else what is left."""
    spec, status = as_dict(deployment.get("spec")), as_dict(deployment.get("status"))
    generation = int(as_dict(deployment.get("metadata")).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        return "predictor rollout: the new spec is not observed yet"
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted:
        return f"predictor rollout: {updated} out of {wanted} new replicas have been updated"
    if total > updated:
        # With none unavailable, old replicas go only once the new ones are available.
        return (f"predictor rollout: {total - updated} old replica(s) still serving, the new one(s) "
                "not available yet")
    if available < updated:
        return f"predictor rollout: {available} of {updated} updated replicas are available"
    return None


@dataclasses.dataclass
class InferenceServices:
    """A DeploymentBackend (appliance/serving/interface.py) over KServe InferenceServices."""

    client: KubeClient
    forwards: Forwards
    describe: Callable[[str], ModelRef]
    clock: Clock
    stubs_image: str
    namespace: str = WORKLOAD_NAMESPACE
    served: ServedVersion = served_version
    ready_timeout: float = READY_TIMEOUT
    delete_timeout: float = DELETE_TIMEOUT
    create_timeout: float = CREATE_TIMEOUT
    interval: float = POLL_SECONDS
    followers: Followers | None = None

    # -- reading ----------------------------------------------------------------------------------

    def _ref(self, name: str) -> ObjRef:
        return ObjRef(ISVC_API, ISVC_KIND, name, self.namespace)

    def _endpoint(self, name: str) -> Endpoint:
        port = self.forwards.ensure(forward_name(name), self.namespace, predictor(name), SERVICE_PORT)
        return Endpoint(name, f"http://127.0.0.1:{port}")

    def _record(self, isvc: Obj) -> Deployment | None:
        meta = as_dict(isvc.get("metadata"))
        model = model_of(isvc)
        if model is None:
            return None  # not one of ours (or edited beyond recognition)
        name = str(meta.get("name"))
        return Deployment(name=name, endpoint=self._endpoint(name), model=model,
                          previous=previous_of(isvc), generation=int(meta.get("generation") or 1))

    def get(self, name: str) -> Deployment | None:
        isvc = self.client.get(self._ref(validate_name(name)))
        return self._record(isvc) if isvc is not None else None

    def require(self, name: str) -> Deployment:
        found = self.get(name)
        if found is None:
            known = ", ".join(d.name for d in self.all()) or "none"
            raise BadInput(f"no deployment named {name!r} in namespace {self.namespace}",
                           f"deployments: {known}",
                           f"deploy it with 'appliance serve deploy {name} --model-uri URI'")
        return found

    def all(self) -> list[Deployment]:
        found = self.client.list(ISVC_API, ISVC_KIND, self.namespace, dict(MANAGED_BY))
        records = (self._record(isvc) for isvc in sorted(found, key=lambda o: str(o["metadata"]["name"])))
        return [r for r in records if r is not None]

    def health(self, deployment: Deployment) -> Health:
        isvc = self.client.get(self._ref(deployment.name))
        if isvc is None:
            return Health(False, "not deployed")
        waiting = isvc_waiting(isvc)
        return Health(True, "ready") if waiting is None else Health(False, waiting)

    # -- lifecycle --------------------------------------------------------------------------------

    def deploy(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Deployment:
        """Create the deployment, or roll it out to `model_uri` when it exists; `progress` hears
        what the wait waits for (KServe's webhook, the predictor's rollout, the endpoint)."""
        validate_name(name)
        if not model_uri.startswith("s3://"):
            raise BadInput(f"cannot serve {model_uri} on a cluster",
                           "KServe's storage-initializer downloads models from the stack's object store",
                           "upload the artifact and pass its s3://bucket/key URI")
        ref = self.describe(model_uri)
        current = self.client.get(self._ref(name))
        previous = None
        if current is not None:
            serving = model_of(current)
            # Re-deploying the same URI keeps the rollback target instead of pointing it at itself.
            previous = serving if serving is not None and serving.uri != ref.uri else previous_of(current)
        return self._apply(name, ref, previous, current, progress)

    def rollout(self, name: str, model_uri: str, *, progress: Progress | None = None) -> Deployment:
        self.require(name)
        return self.deploy(name, model_uri, progress=progress)

    def rollback(self, name: str, *, progress: Progress | None = None) -> Deployment:
        """Serve the previous model again (a second rollback returns to where it started)."""
        current = self.require(name)
        if current.previous is None:
            raise BadInput(f"deployment {name!r} has no previous model to roll back to",
                           f"it has only served {current.model.uri}",
                           f"deploy another model with 'appliance serve deploy {name} --model-uri URI'")
        isvc = self.client.get(self._ref(name))
        return self._apply(name, self.describe(current.previous.uri), current.model, isvc, progress)

    def delete(self, name: str) -> None:
        """Delete the InferenceService and wait until its pods are gone."""
        # A follower would deploy it again on its next tick: it goes first.
        self.stop_follower(validate_name(name))
        self.require(name)
        self.forwards.remove(forward_name(name))
        self.client.delete(self._ref(name))

        def gone() -> str | None:
            pods = self.client.list("v1", "Pod", self.namespace, {ISVC_LABEL: name})
            if not pods:
                return None
            return f"{len(pods)} pod(s) of {name!r} still terminating"

        try:
            wait_for(gone, what=f"the pods of deployment {name!r} to go", timeout=self.delete_timeout,
                     interval=self.interval, clock=self.clock)
        except TimedOut as exc:
            pods = self.client.list("v1", "Pod", self.namespace, {ISVC_LABEL: name})
            lines = tuple(line for pod in pods for line in pod_lines(pod))
            raise NotReady(f"deployment {name!r} was deleted but its pods did not go in "
                           f"{self.delete_timeout:.0f}s",
                           [Diagnosis(f"pods of {self.namespace}/{name}", exc.waiting, pods=lines)]) from None

    def start_follower(self, name: str, interval: float, argv: list[str],
                       env: Mapping[str, str]) -> Follower:
        """Start the follower of `name`; a running one is stopped first (a restart)."""
        if self.followers is None:
            raise BadInput("this serving backend has no place to run a follower", "",
                           f"run 'appliance serve sync {name}' after each promotion")
        self.stop_follower(validate_name(name))
        return self.followers.start(name, interval, argv, env)

    def stop_follower(self, name: str) -> bool:
        if self.followers is None:
            return False
        # Generous: a follower in the middle of a rollout finishes it (the webhook wait, then the
        # ready wait) before it exits.
        return self.followers.stop(validate_name(name), self.create_timeout + self.ready_timeout)

    # -- steps ------------------------------------------------------------------------------------

    def _apply(self, name: str, model: ModelRef, previous: ModelRef | None,
               current: Obj | None, progress: Progress | None = None) -> Deployment:
        wanted = inference_service(name, model, previous, namespace=self.namespace,
                                   stubs_image=self.stubs_image)

        def report(waiting: str, elapsed: float) -> None:
            if progress is not None:
                progress(f"deployment {name}: {waiting} ({elapsed:.0f}s)")

        try:
            apply_admitted(self.client, wanted, self.clock, timeout=self.create_timeout,
                           interval=self.interval, on_progress=report)
        except ApplyFailed as exc:
            if exc.error.status in REFUSED_STATUSES:
                raise RolloutRefused(exc.ref, exc.error) from None
            raise
        try:
            self._wait(name, model, report)
        except NotReady as exc:
            exc.what += self._undo(name, current)
            raise
        found = self.get(name)
        assert found is not None
        return found

    def _undo(self, name: str, before: Obj | None) -> str:
        """After a failed deploy: a new deployment goes, a rollout is put back (its old pods kept
        serving meanwhile). Returns what was done, for the error message."""
        if before is None:
            self.forwards.remove(forward_name(name))
            self.client.delete(self._ref(name))
            return "; the new InferenceService was deleted"
        model = model_of(before)
        if model is None:
            return ""
        self.client.apply([inference_service(name, model, previous_of(before), namespace=self.namespace,
                                              stubs_image=self.stubs_image)])
        return f"; the InferenceService was put back to {model.uri} (its pods kept serving)"

    def _wait(self, name: str, model: ModelRef,
              report: Callable[[str, float], None] | None = None) -> None:
        def serving() -> str | None:
            isvc = self.client.get(self._ref(name))
            if isvc is None:
                return "the InferenceService is gone"
            waiting = isvc_waiting(isvc)
            if waiting is not None:
                return waiting
            deployment = self.client.get(ObjRef("apps/v1", "Deployment", predictor(name), self.namespace))
            if deployment is None:
                return f"Deployment {predictor(name)} not created yet"
            waiting = rollout_waiting(deployment)
            if waiting is not None:
                return waiting
            version = self.served(self._endpoint(name))
            if version != model.version:
                return ("the endpoint does not answer yet" if version is None
                        else f"the endpoint still serves version {version}")
            return None

        try:
            wait_for(serving, what=f"deployment {name!r} to serve version {model.version}",
                     timeout=self.ready_timeout, interval=self.interval, clock=self.clock,
                     on_progress=report)
        except TimedOut as exc:
            raise RolloutNotReady(
                f"deployment {name!r} did not serve {model.uri} (version {model.version}) within "
                f"{self.ready_timeout:.0f}s", self._diagnose(name, exc.waiting)) from None

    def _diagnose(self, name: str, waiting: str) -> list[Diagnosis]:
        isvc = self.client.get(self._ref(name)) or {}
        found = [Diagnosis(f"InferenceService {self.namespace}/{name}", waiting,
                           conditions=condition_lines(isvc))]
        observed = observe(self.client, Component(self.namespace, predictor(name)))
        if observed.deployment is not None:
            found.append(explain(self.client, observed))
        return found


def engine(stack: Stack, forwards: Forwards, client: KubeClient | None = None,
           clock: Clock | None = None, followers: Followers | None = None) -> BackendServingEngine:
    """The serving engine of a kind/kube stack: the factory a target declares is
    `partial(engine, forwards=<its Forwards>)`; the settings come from the stack's state, the
    followers are processes recorded in its run dir."""
    from appliance.serving.artifacts import describe, registry
    from appliance.serving.engine import BackendServingEngine
    from appliance.serving.follow import follower_command
    from appliance.targets.cluster.followers import ProcessFollowers
    from appliance.targets.cluster.official import OfficialClient

    settings = of_stack(stack.name, stack.run_dir)
    backend = InferenceServices(
        client=client or OfficialClient.from_kubeconfig(settings.kubeconfig, settings.context,
                                                      stack.run_dir / "discovery-cache.json"),
        forwards=forwards,
        describe=partial(describe, stack.object_store),
        clock=clock or SystemClock(),
        stubs_image=settings.stubs_image,
        namespace=settings.workload_namespace,
        followers=followers or ProcessFollowers(stack.run_dir),
    )
    return BackendServingEngine(backend, partial(registry, stack.object_store),
                                # The kubeconfig's credential plugin may need the caller's AWS_*.
                                partial(follower_command, stack.name, stack.run_dir, keep_aws_env=True))
